"""The load section's speed target: judged on answers completed per second, so a server that loses
answers is not credited with the wall time it saved by dropping them."""

from __future__ import annotations

from collections import Counter

from bench.api_load import CASES, _targets
from bench.load_client import Level
from bench.stats import Verdict


def _level(server: str, completed: int, wall_s: float, streams: int = 100) -> Level:
    lost = Counter({"error event (OperationalError: database is locked)": streams - completed})
    return Level(server, streams, expected_chunks=12, ttfc=[0.5] * completed, errors=lost, wall_s=wall_s)


def _speed_verdict(ours: Level, adk: Level) -> Verdict:
    sqlite = next(case for case in CASES if case.store == "sqlite")
    return _targets(sqlite, ours.streams, [ours] * 3, [adk] * 3)[0].verdict


def test_a_server_that_loses_answers_is_judged_on_the_answers_it_completed() -> None:
    # ADK's wall time is shorter, but it finished 40 of 100 answers: 6.7/s against our 10/s.
    assert _speed_verdict(_level("ours", 100, 10.0), _level("adk", 40, 6.0)) is Verdict.MET


def test_when_both_complete_everything_the_ratio_is_the_wall_time_ratio() -> None:
    assert _speed_verdict(_level("ours", 100, 10.0), _level("adk", 100, 11.9)) is Verdict.MISSED
    assert _speed_verdict(_level("ours", 100, 10.0), _level("adk", 100, 12.0)) is Verdict.MET


def test_a_server_that_completed_nothing_is_beaten_by_one_that_completed_anything() -> None:
    assert _speed_verdict(_level("ours", 1, 10.0), _level("adk", 0, 1.0)) is Verdict.MET
