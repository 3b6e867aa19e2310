"""StreamMetrics with an injected clock."""

from __future__ import annotations

from streaming_core.metrics import StreamMetrics


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_metrics_measure_first_chunk_gaps_and_rate() -> None:
    clock = FakeClock()
    metrics = StreamMetrics(clock)
    for at, size in [(100.5, 3), (100.7, 5), (101.0, 2)]:
        clock.now = at
        metrics.record_chunk(size)
    clock.now = 102.0

    summary = metrics.summary()

    assert summary.time_to_first_chunk == 0.5
    assert summary.total_time == 2.0
    assert summary.chunk_count == 3
    assert summary.char_count == 10
    assert summary.chunk_sizes == (3, 5, 2)
    assert [round(g, 6) for g in summary.gaps] == [0.2, 0.3]
    assert summary.chunks_per_second == 1.5
    assert round(summary.max_gap, 6) == 0.3


def test_metrics_without_chunks_report_no_first_chunk() -> None:
    summary = StreamMetrics(FakeClock()).summary()

    assert summary.time_to_first_chunk is None
    assert summary.chunks_per_second == 0.0
    assert summary.as_dict()["chunk_count"] == 0


def test_metrics_can_skip_series_for_huge_streams() -> None:
    metrics = StreamMetrics(FakeClock(), keep_series=False)
    for _ in range(1000):
        metrics.record_chunk(1)

    summary = metrics.summary()

    assert summary.chunk_count == 1000
    assert summary.chunk_sizes == () and summary.gaps == ()
