"""The benchmark page: sections with spreads and verdicts, the busy-machine warning, `make bench` knobs."""

from __future__ import annotations

import os

import pytest

from bench.__main__ import _busy_warning, _env_int
from bench.context import BUSY_MARK, MachineContext, Probe, machine_cpu_s
from bench.report import Section, fmt_percent, spread_cell
from bench.stats import Spread, Target


def _section(context: MachineContext | None = None) -> Section:
    overhead = Spread.of([1.01, 1.02, 1.02])
    section = Section(title="1. Layers", intro="Side by side.", header=["layer", "CPU vs ADK", "n"], context=context)
    section.rows.append(["bridge", spread_cell(overhead, fmt_percent), str(overhead.n)])
    section.targets.append(Target.check("bridge adds ≤ 5%", overhead, 1.05, "at_most", fmt_percent))
    return section


def test_section_markdown_shows_each_spread_and_the_verdict_with_its_figures() -> None:
    markdown = _section().to_markdown()
    assert "| bridge | +2.0% (+1.0%–+2.0%) | 3 |" in markdown
    assert "- Target: bridge adds ≤ 5% (measured +2.0% (+1.0%–+2.0%, n=3); reaches +0.5%–+2.5%) — **met**" in markdown


def test_section_markdown_records_the_load_around_it() -> None:
    markdown = _section(MachineContext(0.21, 1.9, 0.04, 2)).to_markdown()
    assert "load average 0.21 before, 1.90 after (2 cores); other processes used 4% of the CPU" in markdown
    assert BUSY_MARK not in markdown


def test_section_is_busy_when_other_processes_took_more_than_a_quarter_of_the_cpu() -> None:
    assert not MachineContext(3.0, 3.0, 0.25, 2).busy  # our own previous section's load is not a neighbour
    busy = MachineContext(0.1, 1.0, 0.26, 2)
    assert busy.busy
    assert busy.to_markdown().startswith(BUSY_MARK)


def test_page_warns_naming_the_busy_sections_only() -> None:
    quiet, busy = _section(MachineContext(0, 0, 0.0, 2)), _section(MachineContext(0, 0, 0.6, 2))
    busy.title = "4. Browser"
    assert _busy_warning([quiet.to_markdown()]) == []
    warning = "\n".join(_busy_warning([quiet.to_markdown(), busy.to_markdown()]))
    assert BUSY_MARK in warning
    assert "4. Browser" in warning
    assert "1. Layers" not in warning


def test_probe_reads_this_machine() -> None:
    context = Probe.start().finish()
    assert context.cores == os.cpu_count()
    assert machine_cpu_s() > 0  # /proc/stat was read: the machine has been busy since boot


@pytest.mark.parametrize(("value", "expected"), [(None, 9), ("", 9), ("12", 12)])
def test_repeats_default_when_unset_or_empty(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: int) -> None:
    if value is None:
        monkeypatch.delenv("BENCH_REPEATS", raising=False)
    else:
        monkeypatch.setenv("BENCH_REPEATS", value)
    assert _env_int("BENCH_REPEATS", 9) == expected


def test_repeats_that_are_not_a_number_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_REPEATS", "many")
    with pytest.raises(SystemExit, match="BENCH_REPEATS must be a whole number, not 'many'"):
        _env_int("BENCH_REPEATS", 9)
