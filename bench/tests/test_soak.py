"""`make soak` in miniature: a few seconds of mixed traffic and a short fault matrix, so the soak's
code runs in `make test` and its report keeps its shape."""

from __future__ import annotations

from pathlib import Path

from bench.reliability_doc import write_reliability_doc
from bench.soak import soak
from streaming_core.testing.faults import fault_table
from streaming_core.testing.paths import PATHS, gemini_for_paths

CHOSEN = {"slow", "cut mid-stream", "429 RESOURCE_EXHAUSTED"}
SOME_FAULTS = tuple(fault for fault in fault_table(slow_s=0.3) if fault.name in CHOSEN)


def test_a_short_soak_passes_and_writes_the_matrix_and_the_figures(tmp_path: Path) -> None:
    # A generous turn limit: on a busy machine an answer must never be mistaken for a silent model.
    with gemini_for_paths(tmp_path) as gemini:
        result = soak(gemini, tmp_path, 3.0, clients=2, matrix_faults=SOME_FAULTS, turn_timeout_s=8.0)
    page = write_reliability_doc(result, tmp_path / "reliability.md", command="make soak").read_text()

    assert result.passed, page
    assert {"normal", "hang-up"} <= set(result.traffic.kinds)
    assert len(result.traffic.kinds) > 2  # some faults ran too
    assert result.traffic.completed > 0 and result.closed_early > 0
    assert next(row for row in page.splitlines() if row.startswith("| slow |")).count("✅") == len(PATHS)
    assert "❌" not in page and "| rss mb |" in page
