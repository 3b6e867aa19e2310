"""The scale-out section in miniature, on real servers (API workers, adk api_server, Redis, PostgreSQL,
the fake Gemini): every configuration answers, and the page keeps its rows and targets."""

from __future__ import annotations

from bench.scale_out import GEMINI_CONFIGS, PACED_1, PACED_2, measure_scale_out


def test_a_tiny_scale_out_serves_every_configuration_and_judges_every_target() -> None:
    section = measure_scale_out("2,3", repeats=1, paced_streams=3)

    labels = [row[0] for row in section.rows]
    assert labels == [config.label for config in GEMINI_CONFIGS] * 2 + [PACED_1.label, PACED_2.label]
    completed = [row[3] for row in section.rows]
    assert completed == ["2/2"] * 7 + ["3/3"] * 9, section.to_markdown()
    stores = {row[0]: row[11] for row in section.rows}
    assert stores[PACED_2.label] != "–" and stores[GEMINI_CONFIGS[0].label] == "–"  # Redis + PostgreSQL CPU read
    assert [target.met for target in section.targets[:3]] == [True] * 3  # nothing lost: 2, 3 and paced
    assert len(section.targets) == 5
    # One sample has no spread to resample: its verdicts are steady, so no group repeats.
    assert "Repetitions: 2 conversations 1; 3 conversations 1; the paced scripted load 1." in section.notes
    assert any(note.startswith("PostgreSQL's shared work, in no configuration's column") for note in section.notes)
