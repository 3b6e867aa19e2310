"""Samples with their spread, repetition until stable, and honest verdicts (met, missed, inconclusive).

A figure measured on a shared machine is a distribution, not a number: a target is met only when
the whole spread meets it, missed only when the whole spread misses it, and inconclusive when the
spread straddles it. Every section of the benchmark page reports figures through this module.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal


@dataclass(frozen=True, slots=True)
class Spread:
    """Summary of repeated measurements of one figure."""

    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        if not samples:
            raise ValueError("a spread needs at least one sample")
        return cls(tuple(samples))

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    @property
    def q1(self) -> float:
        return _quantile(self.samples, 0.25)

    @property
    def q3(self) -> float:
        return _quantile(self.samples, 0.75)

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def relative_iqr(self) -> float:
        """Interquartile range as a fraction of the median (0 for a zero median)."""
        return self.iqr / abs(self.median) if self.median else 0.0

    def map(self, function: Callable[[float], float]) -> Spread:
        """The same samples through `function` (a unit change, a ratio to a constant)."""
        return Spread(tuple(function(sample) for sample in self.samples))

    def format(self, unit: Callable[[float], str] = lambda value: f"{value:.3g}") -> str:
        """`median (low–high, n=N)`, each value through `unit`."""
        return f"{unit(self.median)} ({unit(self.low)}–{unit(self.high)}, n={self.n})"


def _quantile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """Ratios of samples taken side by side (repetition i of each), so noise that hit both
    repetitions alike cancels: the spread of a ratio, not the ratio of two medians."""
    if len(numerators) != len(denominators):
        raise ValueError("paired samples must have the same length")
    return Spread.of([a / b for a, b in zip(numerators, denominators, strict=True)])


class Verdict(Enum):
    MET = "met"
    MISSED = "MISSED"
    INCONCLUSIVE = "inconclusive"


Direction = Literal["at_most", "at_least"]


def judge(spread: Spread, limit: float, direction: Direction) -> Verdict:
    """Met when every sample meets the limit, missed when none does, inconclusive otherwise.

    Judged on the whole spread (min–max), not the median: a verdict that a rerun can flip is
    not a verdict.
    """
    meets = [(sample <= limit) if direction == "at_most" else (sample >= limit) for sample in spread.samples]
    if all(meets):
        return Verdict.MET
    if not any(meets):
        return Verdict.MISSED
    return Verdict.INCONCLUSIVE


@dataclass(frozen=True, slots=True)
class Target:
    """One target of the page: what is asked, the measured spread and its verdict."""

    description: str
    verdict: Verdict

    @classmethod
    def check(
        cls,
        description: str,
        spread: Spread,
        limit: float,
        direction: Direction,
        unit: Callable[[float], str] = lambda value: f"{value:.3g}",
    ) -> Target:
        """`description` with the measured spread appended, judged against `limit`."""
        return cls(f"{description} (measured {spread.format(unit)})", judge(spread, limit, direction))

    @classmethod
    def counted(cls, description: str, met: bool) -> Target:
        """A target on a count that noise cannot move (errors, lost answers): met or missed."""
        return cls(description, Verdict.MET if met else Verdict.MISSED)

    @property
    def met(self) -> bool:
        return self.verdict is Verdict.MET


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Wall time and CPU time of one piece of work in this process."""

    wall_s: float
    process_cpu_s: float  # every thread of this process (user + system)
    thread_cpu_s: float  # the calling thread only


def measure_cpu(work: Callable[[], object]) -> CpuTimes:
    """Runs `work` once and returns its wall, process-CPU and thread-CPU time.

    CPU time barely moves when a neighbour loads the machine (it only counts our own cycles),
    so targets about overhead are judged on it; wall time is reported beside it.
    """
    wall, process, thread = time.perf_counter(), time.process_time(), time.thread_time()
    work()
    return CpuTimes(time.perf_counter() - wall, time.process_time() - process, time.thread_time() - thread)


def repeat_interleaved(
    runs: dict[str, Callable[[], float]],
    *,
    min_repeats: int = 7,
    max_repeats: int = 25,
    max_relative_iqr: float = 0.05,
    budget_s: float = 120.0,
) -> dict[str, Spread]:
    """Calls every run in turn (so machine noise hits them alike), at least `min_repeats` times,
    more while any run's interquartile range exceeds `max_relative_iqr` of its median, until
    `max_repeats` or `budget_s` seconds. Each run returns its own measurement."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    started = time.monotonic()
    for repeat in range(max_repeats):
        for name, run in runs.items():
            samples[name].append(run())
        if repeat + 1 < min_repeats:
            continue
        stable = all(Spread.of(values).relative_iqr() <= max_relative_iqr for values in samples.values())
        if stable or time.monotonic() - started > budget_s:
            break
    return {name: Spread.of(values) for name, values in samples.items()}


def load_average() -> float:
    """The machine's 1-minute load average (0 where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def children_cpu_s() -> float:
    """CPU seconds used so far by this process's finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
