"""Per-stream timing: time to first chunk, gaps, sizes and rates, cheap enough for every stream."""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, TypeAlias

Clock: TypeAlias = Callable[[], float]


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """What one stream measured. Times are seconds; None where nothing arrived."""

    time_to_first_chunk: float | None
    total_time: float
    chunk_count: int
    char_count: int
    chunk_sizes: tuple[int, ...] = field(repr=False, default=())
    gaps: tuple[float, ...] = field(repr=False, default=())

    @property
    def chunks_per_second(self) -> float:
        return self.chunk_count / self.total_time if self.total_time > 0 else 0.0

    @property
    def max_gap(self) -> float:
        return max(self.gaps, default=0.0)

    def as_dict(self) -> dict[str, Any]:
        """The scalar figures, for logs and the SSE `done` event."""
        return {
            "time_to_first_chunk": self.time_to_first_chunk,
            "total_time": self.total_time,
            "chunk_count": self.chunk_count,
            "char_count": self.char_count,
            "chunks_per_second": self.chunks_per_second,
            "max_gap": self.max_gap,
        }


class StreamMetrics:
    """Records chunk arrivals. `array` keeps 100k-chunk streams at a few bytes per chunk."""

    def __init__(self, clock: Clock = time.perf_counter, *, keep_series: bool = True) -> None:
        self._clock = clock
        self._start = clock()
        # With the series, a chunk costs one arrival time and one size, nothing else (gaps and
        # counts come from them at the end); without it, only the counts and the first arrival.
        self._times: array[float] | None = array("d") if keep_series else None
        self._sizes = array("I")
        self._first: float | None = None
        self._chunks = 0
        self._chars = 0

    def record_chunk(self, size: int) -> None:
        now = self._clock()
        if self._times is not None:
            self._times.append(now)
            self._sizes.append(size)
            return
        if self._first is None:
            self._first = now
        self._chunks += 1
        self._chars += size

    def summary(self) -> StreamSummary:
        times = self._times
        if times is None:
            first, chunks, chars = self._first, self._chunks, self._chars
            gaps: tuple[float, ...] = ()
        else:
            first, chunks, chars = (times[0] if times else None), len(times), sum(self._sizes)
            gaps = tuple(later - earlier for earlier, later in pairwise(times))
        return StreamSummary(
            time_to_first_chunk=None if first is None else first - self._start,
            total_time=self._clock() - self._start,
            chunk_count=chunks,
            char_count=chars,
            chunk_sizes=tuple(self._sizes),
            gaps=gaps,
        )
