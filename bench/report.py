"""Benchmark results as markdown: a section per measurement, with targets marked met, missed or inconclusive."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import NotRequired, TypedDict

from bench.context import MachineContext
from bench.stats import Spread, Target


class TargetRecord(TypedDict):
    target: str
    verdict: str  # a Verdict's value
    measured: str
    agreement: float | None  # the share of resampled runs with the same verdict (bench.stats.agreement)
    unconfirmed: NotRequired[str]  # the verdict the samples alone gave, when too few resamples agreed


class SectionRecord(TypedDict):
    duration_s: float | None
    busy: bool
    targets: list[TargetRecord]


@dataclass
class Section:
    title: str
    intro: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    context: MachineContext | None = None  # set by `python -m bench` around the measurement
    duration_s: float | None = None  # likewise: how long the section took, setup included

    def to_markdown(self) -> str:
        lines = [f"## {self.title}", "", self.intro, ""]
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append("|" + "|".join("---" for _ in self.header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        lines.append("")
        lines += [f"- Target: {target.line} — **{target.verdict.value}**{_unsteady(target)}" for target in self.targets]
        lines += [f"- {note}" for note in self.notes]
        ran = [] if self.duration_s is None else [f"This section took {self.duration_s:.0f} s."]
        if self.context is not None:
            ran.append(self.context.to_markdown())
        if ran:
            lines.append(f"- {' '.join(ran)}")
        lines += [f"\n![{self.title}]({image})" for image in self.images]
        return "\n".join(lines) + "\n"

    def to_record(self) -> SectionRecord:
        """The section's verdicts, machine-readable (`docs/bench-verdicts.json`, `python -m bench.compare`)."""
        return {
            "duration_s": None if self.duration_s is None else round(self.duration_s, 1),
            "busy": self.context is not None and self.context.busy,
            "targets": [_record(target) for target in self.targets],
        }


def _record(target: Target) -> TargetRecord:
    record = TargetRecord(
        target=target.description, verdict=target.verdict.value, measured=target.measured, agreement=target.agreement
    )
    if target.unconfirmed is not None:
        record["unconfirmed"] = target.unconfirmed.value
    return record


def _unsteady(target: Target) -> str:
    if target.unconfirmed is not None:
        share = f"{target.agreement:.0%}"
        return f" ({target.unconfirmed.value} on these samples, but only {share} of resampled runs agree)"
    if target.steady:
        return ""
    return f" (a rerun may differ: {target.agreement:.0%} of resampled runs give this verdict)"


def machine_description() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    packages = ["google-adk", "google-genai", "streamlit", "llama_cpp_python", "fastapi", "sse-starlette", "uvicorn"]
    versions = ", ".join(f"{name} {_version(name)}" for name in packages)
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}; {versions}"
    )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def fmt_ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.1f} ms"


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def fmt_percent(ratio: float) -> str:
    """A ratio as the change it makes: 1.023 -> '+2.3%'."""
    return f"{(ratio - 1) * 100:+.1f}%"


def spread_cell(spread: Spread, unit: Callable[[float], str]) -> str:
    """A table cell: the median, then min–max (n goes in its own column)."""
    return spread.format(unit, with_n=False)
