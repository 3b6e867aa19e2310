"""Two runs' verdict files compared target by target (`python -m bench.compare`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import _duration
from bench.compare import differences, load_verdicts, main, write_verdicts
from bench.context import MachineContext
from bench.report import Section, SectionRecord, TargetRecord
from bench.stats import Spread, Target


def _target(text: str, verdict: str, measured: str = "1 (1–1, n=1)", agreement: float | None = 1.0) -> TargetRecord:
    return {"target": text, "verdict": verdict, "measured": measured, "agreement": agreement}


def _record(*targets: TargetRecord, busy: bool = False, duration_s: float | None = 10.0) -> SectionRecord:
    return {"duration_s": duration_s, "busy": busy, "targets": list(targets)}


def test_same_verdicts_make_no_difference_whatever_was_measured() -> None:
    old = {"1. Layers": _record(_target("overhead ≤ 5%", "met", "+2.0%"))}
    new = {"1. Layers": _record(_target("overhead ≤ 5%", "met", "+3.1%"))}
    assert differences(old, new) == []


def test_a_changed_verdict_is_listed_with_both_measurements() -> None:
    old = {"1. Layers": _record(_target("overhead ≤ 5%", "met", "+2.0%", 0.8), _target("API ≤ 25%", "met"))}
    new = {"1. Layers": _record(_target("overhead ≤ 5%", "inconclusive", "+4.0%"), _target("API ≤ 25%", "met"))}
    assert differences(old, new) == [
        "1. Layers: overhead ≤ 5%: met -> inconclusive (measured +2.0%, then +4.0%; 80% of the first run's "
        "resamples gave its verdict)"
    ]


def test_a_change_in_a_busy_run_says_so() -> None:
    old = {"5. Stop": _record(_target("p95 under 0.5 s", "met"))}
    new = {"5. Stop": _record(_target("p95 under 0.5 s", "inconclusive"), busy=True)}
    assert "(a busy machine in one run)" in differences(old, new)[0]


def test_targets_whose_text_holds_a_count_pair_up_in_order() -> None:
    old = {"Scale-out": _record(_target("nothing lost (lost: 0)", "met", "", None), _target("2 workers", "MISSED"))}
    new = {"Scale-out": _record(_target("nothing lost (lost: 3)", "MISSED", "", None), _target("2 workers", "MISSED"))}
    assert differences(old, new) == ["Scale-out: nothing lost (lost: 3): met -> MISSED (measured –, then –)"]


def test_sections_and_targets_only_one_run_has_are_listed() -> None:
    old = {"1. Layers": _record(_target("a", "met"), _target("b", "met")), "2. Local": _record()}
    new = {"1. Layers": _record(_target("a", "met")), "3. Websocket": _record()}
    assert differences(old, new) == [
        "1. Layers: b: only in the old run",
        "2. Local: only in the old run",
        "3. Websocket: only in the new run",
    ]


def test_a_section_record_keeps_target_text_verdict_and_measurement_apart(tmp_path: Path) -> None:
    section = Section("1. Layers", "Side by side.", ["layer"], context=MachineContext(0.1, 0.2, 0.3, 2))
    section.targets += [
        Target.check("overhead ≤ 5%", Spread.of([1.01, 1.07]), 1.05, "at_most", lambda v: f"{v:.2f}"),
        Target.counted("nothing lost", True, "lost 0"),
    ]
    section.duration_s = 12.34
    write_verdicts(tmp_path / "verdicts.json", {section.title: section.to_record()})
    assert load_verdicts(tmp_path / "verdicts.json") == {
        "1. Layers": {
            "duration_s": 12.3,
            "busy": True,
            "targets": [
                {
                    "target": "overhead ≤ 5%",
                    "verdict": "inconclusive",
                    "measured": "1.04 (1.01–1.07, n=2); reaches 0.95–1.13",
                    "agreement": 0.787,
                },
                {"target": "nothing lost", "verdict": "met", "measured": "lost 0", "agreement": None},
            ],
        }
    }
    markdown = section.to_markdown()
    assert "— **inconclusive** (a rerun may differ: 79% of resampled runs give this verdict)" in markdown
    assert "— **met**\n" in markdown  # a count is what it is
    assert "- This section took 12 s. **Busy machine**" in markdown


def test_compare_command_exits_1_on_a_difference_and_0_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, third = (tmp_path / f"{name}.json" for name in ("first", "second", "third"))
    write_verdicts(first, {"7. Memory": _record(_target("under 20 MB", "met"))})
    write_verdicts(second, {"7. Memory": _record(_target("under 20 MB", "met"))})
    write_verdicts(third, {"7. Memory": _record(_target("under 20 MB", "MISSED"))})
    assert main([str(first), str(second)]) == 0
    assert "0 difference(s) over 1 target(s) in 1 section(s)" in capsys.readouterr().out
    assert main([str(first), str(third)]) == 1
    assert "7. Memory: under 20 MB: met -> MISSED" in capsys.readouterr().out
    assert main([str(first), str(tmp_path / "missing.json")]) == 2


def test_page_states_what_a_run_of_every_section_costs() -> None:
    assert _duration([150.0, 210.0]) == "A run of every section took about 6 min; each section says its own time."
    assert _duration([150.0, 210.0, None]) == (
        "The 2 timed sections took about 6 min (1 not timed yet); each section says its own time."
    )
    assert _duration([None]) == ""
