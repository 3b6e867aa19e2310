"""Verdicts on synthetic samples: met, missed and inconclusive at the edges."""

from __future__ import annotations

import pytest

from bench.stats import Spread, Target, Verdict, judge, paired_ratios, repeat_interleaved


def test_judge_whole_spread_under_limit_is_met() -> None:
    assert judge(Spread.of([0.01, 0.02, 0.05]), 0.05, "at_most") is Verdict.MET


def test_judge_whole_spread_over_limit_is_missed() -> None:
    assert judge(Spread.of([0.051, 0.06, 0.2]), 0.05, "at_most") is Verdict.MISSED


def test_judge_spread_straddling_limit_is_inconclusive() -> None:
    assert judge(Spread.of([0.04, 0.05, 0.051]), 0.05, "at_most") is Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    ("samples", "expected"),
    [([1.6, 1.7], Verdict.MET), ([1.2, 1.59], Verdict.MISSED), ([1.59, 1.6], Verdict.INCONCLUSIVE)],
)
def test_judge_at_least_edges(samples: list[float], expected: Verdict) -> None:
    assert judge(Spread.of(samples), 1.6, "at_least") is expected


def test_spread_quantiles_and_format() -> None:
    spread = Spread.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (spread.median, spread.low, spread.high, spread.q1, spread.q3) == (3.0, 1.0, 5.0, 2.0, 4.0)
    assert spread.format(lambda v: f"{v:.0f} s") == "3 s (1 s–5 s, n=5)"


def test_spread_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        Spread.of([])


def test_paired_ratios_cancel_shared_noise() -> None:
    # Repetition 2 ran on a busy machine: both sides slowed alike, the ratio did not move.
    assert paired_ratios([1.02, 2.04], [1.0, 2.0]).samples == pytest.approx((1.02, 1.02))


def test_target_check_names_the_spread() -> None:
    target = Target.check("overhead ≤ 5%", Spread.of([0.01, 0.03]), 0.05, "at_most", lambda v: f"{v:+.0%}")
    assert target.met
    assert target.description == "overhead ≤ 5% (measured +2% (+1%–+3%, n=2))"


def test_repeat_interleaved_stops_when_stable() -> None:
    calls: list[str] = []

    def run(name: str) -> float:
        calls.append(name)
        return 1.0

    spreads = repeat_interleaved({"a": lambda: run("a"), "b": lambda: run("b")}, min_repeats=3, max_repeats=10)
    assert calls == ["a", "b"] * 3
    assert spreads["a"].n == 3


def test_repeat_interleaved_repeats_while_noisy() -> None:
    values = iter([1.0, 2.0] * 50)
    spreads = repeat_interleaved({"noisy": lambda: next(values)}, min_repeats=3, max_repeats=9, budget_s=60)
    assert spreads["noisy"].n == 9
