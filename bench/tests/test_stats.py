"""Verdicts on synthetic samples: met, missed and inconclusive at the edges."""

from __future__ import annotations

import gc
import math

import pytest

from bench.report import Section
from bench.stats import (
    STEADY_AGREEMENT,
    Repetition,
    Spread,
    Target,
    Verdict,
    agreement,
    gc_paused,
    judge,
    paired_differences,
    paired_ratios,
    repeat_interleaved,
    repeat_until_stable,
    slowest_rank_of_bound,
)


def test_judge_whole_reach_under_limit_is_met() -> None:
    assert judge(Spread.of([0.01, 0.02, 0.02]), 0.05, "at_most") is Verdict.MET


def test_judge_whole_reach_over_limit_is_missed() -> None:
    assert judge(Spread.of([0.06, 0.06, 0.07]), 0.05, "at_most") is Verdict.MISSED


def test_judge_spread_straddling_limit_is_inconclusive() -> None:
    assert judge(Spread.of([0.04, 0.05, 0.051]), 0.05, "at_most") is Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([1.75, 2.0], Verdict.MET),  # reaches 1.5–2.25: on the limit
        ([1.0, 1.24], Verdict.MISSED),  # reaches 0.76–1.48
        ([1.0, 1.25], Verdict.INCONCLUSIVE),  # reaches 0.75–1.5: its top meets the limit
        ([1.5, 2.0], Verdict.INCONCLUSIVE),  # every sample meets it, but two samples reach 1.0–2.5
    ],
)
def test_judge_at_least_edges(samples: list[float], expected: Verdict) -> None:
    assert judge(Spread.of(samples), 1.5, "at_least") is expected


def test_reach_widens_few_samples_and_barely_moves_many() -> None:
    assert Spread.of([1.0, 2.0, 3.0]).reach == (0.0, 4.0)  # 3 samples: half the range again on each side
    assert Spread.of([1.0, 2.0, 3.0]).margins == (1.0, 1.0)
    assert Spread.of([float(value) for value in range(11)]).reach == (-1.0, 11.0)
    assert Spread.of([2.0]).reach == (2.0, 2.0)
    assert Spread.of([1.0, math.inf]).reach == (1.0, math.inf)


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
    target = Target.check("overhead ≤ 5%", Spread.of([0.01, 0.02, 0.02]), 0.05, "at_most", lambda v: f"{v:+.0%}")
    assert target.met
    assert target.line == "overhead ≤ 5% (measured +2% (+1%–+2%, n=3); reaches +0%–+2%)"


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


def test_percentile_bounds_of_few_samples_reach_the_slowest() -> None:
    spread = Spread.of([float(value) for value in range(1, 21)])
    low, high = spread.percentile_bounds(0.95)
    assert high == 20.0
    assert low < 20.0


def test_percentile_bounds_of_many_samples_close_in_on_the_percentile() -> None:
    spread = Spread.of([float(value) for value in range(10_000)])
    low, high = spread.percentile_bounds(0.99)
    assert 9_850 < low < 9_900 < high < 9_950


def test_judge_on_a_percentile_ignores_a_rare_outlier_among_many_samples() -> None:
    samples = [0.010] * 990 + [0.200] * 10  # 1% of gaps slow: the p99 is fast, the max is not
    assert judge(Spread.of(samples), 0.05, "at_most") is Verdict.INCONCLUSIVE
    assert judge(Spread.of(samples), 0.05, "at_most", percentile=0.95) is Verdict.MET


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        # One noisy repetition does not decide a typical cost, either way.
        ([0.90, 1.01, 1.02, 1.02, 1.03, 1.03, 1.04, 1.04, 1.30], Verdict.MET),
        ([0.90, 1.051, 1.06, 1.06, 1.07, 1.07, 1.08, 1.08, 1.30], Verdict.MISSED),
        ([0.90, 1.01, 1.02, 1.03, 1.04, 1.06, 1.07, 1.08, 1.30], Verdict.INCONCLUSIVE),
    ],
)
def test_judge_on_the_median_uses_its_confidence_interval(samples: list[float], expected: Verdict) -> None:
    # n=9: the median lies between the 2nd and 8th order statistics.
    assert judge(Spread.of(samples), 1.05, "at_most", percentile=0.5) is expected


def test_target_check_on_a_percentile_names_where_it_lies() -> None:
    target = Target.check("p50 ≤ 5", Spread.of([1.0, 2.0, 3.0]), 5, "at_most", lambda v: f"{v:g}", percentile=0.5)
    assert (target.description, target.line) == ("p50 ≤ 5", "p50 ≤ 5 (measured 2 (1–3, n=3); p50 between 1 and 3)")
    assert target.met


def test_target_check_on_a_percentile_pinned_to_one_sample_names_it_once() -> None:
    target = Target.check("p95 ≤ 5", Spread.of([6.0]), 5, "at_most", lambda v: f"{v:g}", percentile=0.95)
    assert (target.description, target.line) == ("p95 ≤ 5", "p95 ≤ 5 (measured 6 (6–6, n=1); p95 6)")
    assert target.verdict is Verdict.MISSED


@pytest.mark.parametrize(
    ("n", "fraction", "expected"),
    [(7, 0.5, (1, 7)), (9, 0.5, (2, 8)), (20, 0.95, (17, 20)), (3, 0.95, (2, 3))],
)
def test_percentile_bounds_are_the_exact_binomial_order_statistics(
    n: int, fraction: float, expected: tuple[int, int]
) -> None:
    # Samples 1..n, so each bound is its own rank.
    assert Spread.of([float(rank) for rank in range(1, n + 1)]).percentile_bounds(fraction) == expected


def test_percentile_outside_zero_and_one_is_an_error() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        Spread.of([1.0]).percentile_bounds(1.0)


def test_paired_differences_subtract_repetition_by_repetition() -> None:
    assert paired_differences([0.050, 0.090], [0.040, 0.085]).samples == pytest.approx((0.010, 0.005))
    with pytest.raises(ValueError, match="same length"):
        paired_differences([1.0], [])


def test_spread_quantile_and_format_without_n() -> None:
    spread = Spread.of([1.0, 2.0, 3.0, 4.0])
    assert spread.quantile(0.5) == 2.5
    assert spread.format(lambda v: f"{v:g}", with_n=False) == "2.5 (1–4)"


def test_repeat_until_stable_stops_at_the_budget_even_while_noisy() -> None:
    values: list[float] = []
    rule = Repetition(min_repeats=4, max_repeats=50, max_relative_iqr=0.01, budget_s=0.0)
    count = repeat_until_stable(lambda index: values.append(float(index % 2 + 1)), lambda: [Spread.of(values)], rule)
    assert count == len(values) == 4


def test_a_budget_already_spent_still_leaves_the_unsteady_repeats() -> None:
    values: list[float] = []
    rule = Repetition(min_repeats=3, max_repeats=50, max_relative_iqr=0.01, budget_s=0.0, unsteady_repeats=5)
    count = repeat_until_stable(lambda index: values.append(float(index % 2 + 1)), lambda: [Spread.of(values)], rule)
    assert count == len(values) == 5
    assert rule.outcome(count, [Target.check("≥ 1.6×", Spread.of([1.3, 1.59]), 1.6, "at_least")]) == (
        "5 (a verdict not steady, but past the 0 s budget and 5 repetitions)"
    )
    # A steady level stops at its minimum, as before.
    steady: list[float] = []
    assert repeat_until_stable(lambda index: steady.append(1.0), lambda: [Spread.of(steady)], rule) == 3


def test_repeat_until_stable_watches_only_the_spreads_it_is_given() -> None:
    noisy: list[float] = []
    steady: list[float] = []

    def repeat(index: int) -> None:
        noisy.append(float(index % 2 + 1))
        steady.append(1.0)

    rule = Repetition(min_repeats=3, max_repeats=10, max_relative_iqr=0.05, budget_s=60)
    assert repeat_until_stable(repeat, lambda: [Spread.of(steady)], rule) == 3
    assert len(noisy) == 3


def test_repeat_until_stable_goes_on_while_a_verdict_is_not_steady() -> None:
    # Overheads cycling 1..9: after 9 the median's interval is [2, 8], on the limit, and most
    # resamples straddle it; by 12 it has moved clear of it.
    overheads: list[float] = []

    def targets() -> list[Target]:
        return [Target.check("p50 ≤ 8", Spread.of(overheads), 8.0, "at_most", percentile=0.5)]

    rule = Repetition(min_repeats=9, max_repeats=30, max_relative_iqr=10.0, budget_s=60)
    assert repeat_until_stable(lambda index: overheads.append(float(index % 9 + 1)), list, rule, targets) == 12
    assert targets()[0].steady


def test_gc_paused_turns_the_collector_back_on_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("a run failed")
    assert gc.isenabled()


def test_agreement_of_a_verdict_far_from_its_limit_is_certain() -> None:
    spread = Spread.of([1.00, 1.01, 1.01, 1.02, 1.02, 1.02, 1.03, 1.03, 1.04])
    assert agreement(spread, 1.05, "at_most", percentile=0.5) == 1.0
    assert Target.check("≤ 5%", spread, 1.05, "at_most", percentile=0.5).steady


def test_agreement_of_a_verdict_on_the_edge_of_its_interval_is_low() -> None:
    # n=9: the median's interval is the 2nd to 8th sample, [2, 8], and 8 just meets the limit; most
    # resamples draw a 9 among their top two and straddle it.
    spread = Spread.of([float(value) for value in range(1, 10)])
    target = Target.check("p50 ≤ 8", spread, 8.0, "at_most", percentile=0.5)
    assert judge(spread, 8.0, "at_most", percentile=0.5) is Verdict.MET
    assert target.agreement is not None and target.agreement < STEADY_AGREEMENT
    assert not target.steady
    # Met on these samples, which a rerun would likely not reproduce: reported inconclusive.
    assert target.verdict is Verdict.INCONCLUSIVE and target.unconfirmed is Verdict.MET


def test_a_count_is_steady() -> None:
    assert Target.counted("nothing lost", True).steady


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (20.0, Verdict.MET),  # the p95's upper bound (the slowest of 20) is on the limit
        (16.9, Verdict.MISSED),  # its lower bound (the 17th) is just past it
        (17.0, Verdict.INCONCLUSIVE),  # the limit between the bounds, on the lower one
    ],
)
def test_judge_on_a_high_percentile_at_the_edges_of_its_bounds(limit: float, expected: Verdict) -> None:
    spread = Spread.of([float(rank) for rank in range(1, 21)])  # p95 of 20 lies between the 17th and the 20th
    assert judge(spread, limit, "at_most", percentile=0.95) is expected


def test_agreement_of_a_missed_verdict_whose_reach_ends_a_hair_from_its_limit_is_low() -> None:
    """Issue 15: scale-out's "2 workers vs 1" came out missed with its reach ending 1% under the
    limit, then inconclusive on the next run; plain resamples (never beyond min–max) had called
    the missed verdict certain, so it was never repeated."""
    target = Target.check("≥ 1.6×", Spread.of([1.26, 1.36, 1.48]), 1.6, "at_least")  # reaches 1.15–1.59
    assert target.verdict is Verdict.INCONCLUSIVE and target.unconfirmed is Verdict.MISSED
    assert not target.steady


def test_agreement_of_a_met_verdict_on_reach_far_from_its_limit_is_certain() -> None:
    assert agreement(Spread.of([1.88, 1.89, 1.93]), 1.2, "at_least") == 1.0


def test_a_figure_centred_on_its_limit_is_steadily_inconclusive() -> None:
    # The true value on the limit: the reach straddles it, and so would a rerun's.
    spread = Spread.of([0.97, 1.03, 0.99, 1.01, 1.0, 0.98, 1.02, 0.96, 1.04])
    target = Target.check("≤ 1", spread, 1.0, "at_most")
    assert target.verdict is Verdict.INCONCLUSIVE
    assert target.steady


def test_three_samples_just_clear_of_the_limit_are_not_a_steady_met() -> None:
    # All three on one side of a limit the figure sits on happens one run in eight; the tight
    # cluster's reach clears the limit by a margin a rerun can cross.
    target = Target.check("≥ 1", Spread.of([1.02, 1.03, 1.04]), 1.0, "at_least")
    assert target.verdict is Verdict.INCONCLUSIVE and target.unconfirmed is Verdict.MET
    assert not target.steady


def test_repeat_until_stable_repeats_a_missed_verdict_near_its_limit_until_it_is_steady() -> None:
    ratios = [1.26, 1.36, 1.48, 1.30, 1.40, 1.33, 1.38, 1.29, 1.35, 1.42, 1.31, 1.37]
    measured: list[float] = []

    def targets() -> list[Target]:
        return [Target.check("≥ 1.6×", Spread.of(measured), 1.6, "at_least")]

    rule = Repetition(min_repeats=3, max_repeats=12, budget_s=60)
    count = repeat_until_stable(lambda index: measured.append(ratios[index]), tuple, rule, targets)
    assert 3 < count < 12
    assert targets()[0].verdict is Verdict.MISSED and targets()[0].steady
    assert rule.outcome(count, targets()) == f"{count} (more until every verdict was steady)"


def test_repetition_outcome_says_why_the_repetitions_stopped() -> None:
    rule = Repetition(min_repeats=3, max_repeats=12, budget_s=25)
    steady = Target.counted("nothing lost", True)
    unsteady = Target.check("≥ 1.6×", Spread.of([1.3, 1.59]), 1.6, "at_least")
    assert not unsteady.steady
    assert rule.outcome(3, [steady]) == "3"
    assert rule.outcome(3, [steady, unsteady]) == "3 (a verdict not steady, but past the 25 s budget)"
    assert rule.outcome(12, [unsteady]) == "12 (the most allowed; a verdict still not steady)"


def test_an_unconfirmed_verdict_is_recorded_and_compared_as_such() -> None:
    """Issue 15: two runs flipped on met or missed verdicts that their own resamples did not
    reproduce; reported inconclusive, the page and the JSON still say what the samples gave."""
    target = Target.check("≥ 1.2×", Spread.of([1.24, 1.29, 1.32]), 1.2, "at_least")  # reaches 1.20–1.36
    assert target.verdict is Verdict.INCONCLUSIVE and target.unconfirmed is Verdict.MET
    section = Section("load", "", ["case"], targets=[target])
    assert "— **inconclusive** (met on these samples, but only" in section.to_markdown()
    (record,) = section.to_record()["targets"]
    assert record["verdict"] == "inconclusive" and record["unconfirmed"] == "met"


@pytest.mark.parametrize(("n", "rank"), [(20, 1), (120, 2), (240, 6)])
def test_slowest_rank_of_bound_names_the_sample_percentile_bounds_takes(n: int, rank: int) -> None:
    spread = Spread.of([float(value) for value in range(1, n + 1)])
    assert slowest_rank_of_bound(n, 0.95) == rank
    assert spread.percentile_bounds(0.95)[1] == n - rank + 1


def test_an_outlier_widens_the_reach_on_its_own_side_only() -> None:
    """Issue 15: ADK's server once ran slow on SQLite, so one ratio was 5.5× among 2.25–2.32×; a
    symmetric widening took the speed-up's reach down to 1.4× and its met verdict to 'unconfirmed'."""
    spread = Spread.of([2.25, 2.30, 2.32, 2.35, 5.50])
    below, above = spread.margins
    assert below == pytest.approx(2 * (2.32 - 2.25) / 4) and above == pytest.approx(2 * (5.50 - 2.32) / 4)
    target = Target.check("≥ 1.2×", spread, 1.2, "at_least")
    assert target.met and target.steady
    # Three samples do not tell the sides apart: the widening stays symmetric.
    assert Spread.of([1.0, 1.5, 1.51]).margins == pytest.approx((0.255, 0.255))
