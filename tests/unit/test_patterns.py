"""Aggregation, progress, fan-out and coalescing over the typed stream."""

from __future__ import annotations

from streaming_core.events import Done, Heartbeat, StreamEvent, TextDelta
from streaming_core.metrics import StreamMetrics
from streaming_core.patterns import FanOutReport, aggregate, coalesce_text, fan_out, track_progress


class StepClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def stream(*texts: str) -> list[StreamEvent | Heartbeat]:
    done = Done("completed", "".join(texts), StreamMetrics().summary())
    return [*(TextDelta(t) for t in texts), done]


def test_aggregate_keeps_text_chunks_and_done() -> None:
    result = aggregate(stream("ab", "cde"), clock=StepClock(1.0))

    assert result.text == "abcde"
    assert [(c.index, c.size, c.at) for c in result.chunks] == [(0, 2, 1.0), (1, 3, 2.0)]
    assert result.done is not None and result.done.text == "abcde"


def test_track_progress_reports_after_each_chunk_and_heartbeat() -> None:
    seen = []
    events = [TextDelta("ab"), Heartbeat(), TextDelta("c")]

    passed = list(track_progress(events, seen.append, clock=StepClock(0.5)))

    assert passed == events
    assert [(p.chunks, p.chars) for p in seen] == [(1, 2), (1, 2), (2, 3)]
    assert seen[-1].chars_per_second > 0


def test_fan_out_a_failing_output_does_not_stop_the_others_or_the_stream() -> None:
    good: list[StreamEvent] = []

    def broken(event: StreamEvent) -> None:
        raise OSError("disk full")

    report = FanOutReport()
    passed = list(fan_out(stream("a", "b"), {"broken": broken, "good": good.append}, report))

    assert len(passed) == 3
    assert len(good) == 3
    assert report.failures == {"broken": "OSError: disk full"}


def test_coalesce_text_batches_fast_chunks_and_keeps_every_character() -> None:
    done_events: list[StreamEvent] = []
    events = stream(*["x"] * 1000)

    pieces = list(coalesce_text(events, done_events.append, min_interval=0.05, clock=StepClock(0.001)))

    assert "".join(pieces) == "x" * 1000
    assert len(pieces) <= 21
    assert isinstance(done_events[0], Done)


def test_coalesce_text_turns_heartbeats_into_empty_pieces() -> None:
    pieces = list(coalesce_text([Heartbeat(), Heartbeat(), TextDelta("a")], lambda e: None, clock=StepClock(1)))

    assert pieces == ["", "", "a"]
