"""Samples with their spread, repetition until stable, and honest verdicts (met, missed, inconclusive).

A figure measured on a shared machine is a distribution, not a number: a target is met only when
the whole spread (min–max, widened where samples are few) meets it (for a target on a percentile,
where that percentile lies), missed only when none of it does, and inconclusive when the spread
straddles it. Every section of the benchmark page reports figures through this module.
"""

from __future__ import annotations

import functools
import gc
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
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
        return self.quantile(0.25)

    @property
    def q3(self) -> float:
        return self.quantile(0.75)

    def quantile(self, fraction: float) -> float:
        """Linear interpolation between the order statistics (`statistics.quantiles`' inclusive method)."""
        return _quantile(self.samples, fraction)

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def relative_iqr(self) -> float:
        """Interquartile range as a fraction of the median (0 for a zero median)."""
        return self.iqr / abs(self.median) if self.median else 0.0

    def map(self, function: Callable[[float], float]) -> Spread:
        """The same samples through `function` (a unit change, a ratio to a constant)."""
        return Spread(tuple(function(sample) for sample in self.samples))

    @property
    def margins(self) -> tuple[float, float]:
        """How far `reach` extends below min and above max: range/(n−1) on each side, 0 for one
        sample. From 4 samples on, twice each side's distance from the median over n−1 instead (the
        same for symmetric samples), so an outlier widens its own side only: a rival's one slow run
        made a 2.3× speed-up (2.25×–5.50×, n=5) reach down to 1.4×. Three samples are too few to
        tell one side's spread from the other's: there the middle one is as likely an outlier."""
        width = self.high - self.low
        if self.n < 2 or not math.isfinite(width):  # an infinite sample (a rival that did nothing) stays as it is
            return 0.0, 0.0
        if self.n < 4:
            return width / (self.n - 1), width / (self.n - 1)
        median = self.median
        return 2 * (median - self.low) / (self.n - 1), 2 * (self.high - median) / (self.n - 1)

    @property
    def reach(self) -> tuple[float, float]:
        """How far the figure's distribution reaches, estimated from the samples: min–max widened by
        `margins`, range/(n−1) on each side for symmetric samples, the unbiased estimate of a uniform
        distribution's ends. A few samples fall short of where a rerun can land (3 span half the
        distribution's width on average), so a verdict on bare min–max flips between reruns; with
        many samples the widening vanishes."""
        below, above = self.margins
        return self.low - below, self.high + above

    def percentile_bounds(self, fraction: float, confidence: float = 0.95) -> tuple[float, float]:
        """Where the `fraction` percentile lies, from the samples alone: the order statistics that
        bracket it with at least `confidence` (exact, distribution-free: how many samples fall
        below a percentile is binomial). With few samples a high percentile's bounds reach the
        maximum, so it is judged like the whole spread; with thousands they close in on it."""
        ordered = sorted(self.samples)
        below, above = _rank_bounds(self.n, fraction, (1 - confidence) / 2)
        return ordered[below - 1], ordered[above - 1]

    def format(self, unit: Callable[[float], str] = lambda value: f"{value:.3g}", with_n: bool = True) -> str:
        """`median (low–high, n=N)`, each value through `unit`."""
        count = f", n={self.n}" if with_n else ""
        return f"{unit(self.median)} ({unit(self.low)}–{unit(self.high)}{count})"


def slowest_rank_of_bound(n: int, fraction: float, confidence: float = 0.95) -> int:
    """Which sample from the top `Spread.percentile_bounds` takes as the `fraction` percentile's
    upper bound among `n`: 1 is the largest, so one outlier decides a verdict on it."""
    return n - _rank_bounds(n, fraction, (1 - confidence) / 2)[1] + 1


def _quantile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@functools.cache  # the same few (n, percentile) pairs, judged again for every resample
def _rank_bounds(n: int, fraction: float, tail: float) -> tuple[int, int]:
    """1-based ranks (l, u) with P(fewer than l samples below the percentile) ≤ tail and
    P(u or more below it) ≤ tail, widened to 1 and n where n is too small for that."""
    if not 0 < fraction < 1:
        raise ValueError(f"a percentile is strictly between 0 and 1, not {fraction}")
    log_p, log_q = math.log(fraction), math.log1p(-fraction)
    cumulative, below, above = 0.0, 1, n
    for k in range(n):  # cumulative = P(at most k samples below the percentile)
        cumulative += math.exp(
            math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
        )
        if cumulative <= tail:
            below = k + 1
        if cumulative >= 1 - tail:
            above = k + 1
            break
    return below, above


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """Ratios of samples taken side by side (repetition i of each), so noise that hit both
    repetitions alike cancels: the spread of a ratio, not the ratio of two medians."""
    if len(numerators) != len(denominators):
        raise ValueError("paired samples must have the same length")
    return Spread.of([a / b for a, b in zip(numerators, denominators, strict=True)])


def paired_differences(minuends: Sequence[float], subtrahends: Sequence[float]) -> Spread:
    """Differences of samples taken side by side (repetition i of each), like `paired_ratios`."""
    if len(minuends) != len(subtrahends):
        raise ValueError("paired samples must have the same length")
    return Spread.of([a - b for a, b in zip(minuends, subtrahends, strict=True)])


class Verdict(Enum):
    MET = "met"
    MISSED = "MISSED"
    INCONCLUSIVE = "inconclusive"


Direction = Literal["at_most", "at_least"]


def judge(spread: Spread, limit: float, direction: Direction, percentile: float | None = None) -> Verdict:
    """Met when the whole spread meets the limit, missed when none of it does, inconclusive otherwise.

    Judged on the whole spread, not the median: a verdict that a rerun can flip is not a verdict.
    The spread is where the distribution reaches (`Spread.reach`: min–max, widened where samples
    are few), since a rerun draws new samples. A target stated on a percentile ("p95 under 150 ms")
    is judged on where that percentile lies (`Spread.percentile_bounds`) instead.
    """
    low, high = spread.reach if percentile is None else spread.percentile_bounds(percentile)
    best, worst = (low, high) if direction == "at_most" else (high, low)
    if _meets(worst, limit, direction):
        return Verdict.MET
    if not _meets(best, limit, direction):
        return Verdict.MISSED
    return Verdict.INCONCLUSIVE


# A met or missed verdict that fewer resamples than this reproduce is reported inconclusive; an
# inconclusive one is marked on the page: a rerun may differ.
STEADY_AGREEMENT = 0.9
RESAMPLES = 1000


def agreement(spread: Spread, limit: float, direction: Direction, percentile: float | None = None) -> float:
    """The share of bootstrap resamples of `spread` (n draws with replacement, a fixed seed) that
    `judge` gives the same verdict: how likely a rerun drawing from the same distribution is to agree.

    For a verdict on where the spread reaches, each drawn sample is also moved by a uniform amount
    within `Spread.margins`, so resamples come from the distribution the reach describes (its support
    is the reach) and can land beyond the measured min–max as a rerun can. Plain resamples never
    leave the measured range, so their reach never passes the original's: a met or missed verdict
    whose reach ended a hair from its limit was reproduced 100% of the time, never repeated, and
    flipped on the next run. A verdict on a percentile resamples the samples themselves.
    """
    verdict = judge(spread, limit, direction, percentile)
    draw = random.Random(0)
    below, above = spread.margins if percentile is None else (0.0, 0.0)

    def resample() -> Spread:
        drawn = draw.choices(spread.samples, k=spread.n)
        if not below and not above:
            return Spread(tuple(drawn))
        return Spread(tuple(value + draw.uniform(-below, above) for value in drawn))

    same = sum(judge(resample(), limit, direction, percentile) is verdict for _ in range(RESAMPLES))
    return same / RESAMPLES


def _meets(value: float, limit: float, direction: Direction) -> bool:
    return value <= limit if direction == "at_most" else value >= limit


@dataclass(frozen=True, slots=True)
class Target:
    """One target of the page: what is asked, the measured spread and its verdict."""

    description: str  # what is asked; the same text from run to run, so two runs' verdicts pair up
    verdict: Verdict
    measured: str = ""  # the figures the verdict rests on
    agreement: float | None = None  # `agreement` of a measured spread; None for a count
    # What the spread alone said when too few resamples reproduced it, so the verdict is inconclusive.
    unconfirmed: Verdict | None = None

    @property
    def steady(self) -> bool:
        """Whether a rerun would most likely give the same verdict (counts always do)."""
        return self.unconfirmed is None and (self.agreement is None or self.agreement >= STEADY_AGREEMENT)

    @property
    def line(self) -> str:
        """The target as the page shows it: what is asked, then what was measured."""
        return f"{self.description} (measured {self.measured})" if self.measured else self.description

    @classmethod
    def check(
        cls,
        description: str,
        spread: Spread,
        limit: float,
        direction: Direction,
        unit: Callable[[float], str] = lambda value: f"{value:.3g}",
        percentile: float | None = None,
    ) -> Target:
        """`description` with the measured spread appended, judged against `limit` on where the
        spread reaches, or on where `percentile` lies when the target is stated on one."""
        measured = spread.format(unit)
        if percentile is None and spread.reach != (spread.low, spread.high):
            measured += f"; reaches {unit(spread.reach[0])}–{unit(spread.reach[1])}"
        if percentile is not None:
            low, high = spread.percentile_bounds(percentile)
            where = unit(low) if low == high else f"between {unit(low)} and {unit(high)}"
            measured += f"; p{percentile * 100:g} {where}"
        verdict = judge(spread, limit, direction, percentile)
        share = agreement(spread, limit, direction, percentile)
        if verdict is not Verdict.INCONCLUSIVE and share < STEADY_AGREEMENT:
            # Met or missed on these samples, but a rerun would as likely say otherwise: a verdict
            # its own resamples do not reproduce is no verdict, and two runs flipped on such ones.
            return cls(description, Verdict.INCONCLUSIVE, measured, share, unconfirmed=verdict)
        return cls(description, verdict, measured, share)

    @classmethod
    def counted(cls, description: str, met: bool, measured: str = "") -> Target:
        """A target on a count that noise cannot move (errors, lost answers): met or missed."""
        return cls(description, Verdict.MET if met else Verdict.MISSED, measured)

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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collects, then keeps the cyclic garbage collector off for a timed run: when a collection
    falls depends on what earlier runs left on the heap, not on the code being timed."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True, slots=True)
class Repetition:
    """When to stop repeating: at least `min_repeats`, more while a watched spread's
    interquartile range exceeds `max_relative_iqr` of its median, at most `max_repeats` or
    until `budget_s` seconds have passed, but the budget stops none of the first
    `unsteady_repeats` (what a run too long for the budget still gets while a verdict is
    not steady)."""

    min_repeats: int = 7
    max_repeats: int = 25
    max_relative_iqr: float = 0.05
    budget_s: float = 120.0
    unsteady_repeats: int = 0

    def stable(self, spreads: Iterable[Spread]) -> bool:
        return all(spread.relative_iqr() <= self.max_relative_iqr for spread in spreads)

    def outcome(self, count: int, targets: Iterable[Target]) -> str:
        """How many repetitions `repeat_until_stable` ran and why it stopped there, for the page:
        `targets` are those it judged, after the last repetition."""
        if all(target.steady for target in targets):
            return str(count) if count <= self.min_repeats else f"{count} (more until every verdict was steady)"
        if count >= self.max_repeats:
            return f"{count} (the most allowed; a verdict still not steady)"
        floor = f" and {self.unsteady_repeats} repetitions" if count <= self.unsteady_repeats else ""
        return f"{count} (a verdict not steady, but past the {self.budget_s:.0f} s budget{floor})"


def repeat_until_stable(
    repeat: Callable[[int], None],
    watched: Callable[[], Iterable[Spread]],
    rule: Repetition,
    targets: Callable[[], Iterable[Target]] = tuple,
) -> int:
    """Calls `repeat(i)` for i = 0, 1, ... as `rule` says, checking the spreads `watched()`
    returns after each call, and that every target `targets()` judges is steady (a rerun would
    most likely give its verdict); returns how many repetitions ran."""
    started = time.monotonic()

    def settled() -> bool:
        return rule.stable(watched()) and all(target.steady for target in targets())

    for index in range(rule.max_repeats):
        repeat(index)
        done = index + 1
        if done >= rule.min_repeats and (
            settled() or (done >= rule.unsteady_repeats and time.monotonic() - started > rule.budget_s)
        ):
            return done
    return rule.max_repeats


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

    def repeat(_: int) -> None:
        for name, run in runs.items():
            samples[name].append(run())

    rule = Repetition(min_repeats, max_repeats, max_relative_iqr, budget_s)
    repeat_until_stable(repeat, lambda: (Spread.of(values) for values in samples.values()), rule)
    return {name: Spread.of(values) for name, values in samples.items()}


def load_average() -> float:
    """The machine's 1-minute load average (0 where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0
