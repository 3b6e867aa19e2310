"""Per-stream timing: time to first chunk, gaps, sizes and rates, cheap enough for every stream."""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
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
        self._keep_series = keep_series
        self._start = clock()
        self._first: float | None = None
        self._last: float | None = None
        self._chunks = 0
        self._chars = 0
        self._sizes = array("I")
        self._gaps = array("d")

    def record_chunk(self, size: int) -> None:
        now = self._clock()
        if self._first is None:
            self._first = now
        elif self._keep_series and self._last is not None:
            self._gaps.append(now - self._last)
        if self._keep_series:
            self._sizes.append(size)
        self._last = now
        self._chunks += 1
        self._chars += size

    def summary(self) -> StreamSummary:
        return StreamSummary(
            time_to_first_chunk=None if self._first is None else self._first - self._start,
            total_time=self._clock() - self._start,
            chunk_count=self._chunks,
            char_count=self._chars,
            chunk_sizes=tuple(self._sizes),
            gaps=tuple(self._gaps),
        )
