"""A run's events, numbered from 1: one producer, any number of readers, bounded memory.

The buffer keeps the last `capacity` events for clients that resume, and never drops an
event a reader has not read yet: when the slowest attached reader (or, with none attached,
the last one to leave) is `capacity` events behind, `put` waits. That backpressure reaches
the model stream instead of growing memory, and a paused run still expires after the grace
period if nobody comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Generic, TypeVar

from streaming_core.errors import StreamingCoreError

T = TypeVar("T")


class ResumeGap(StreamingCoreError):
    """The events after a client's Last-Event-ID have already left the bounded buffer."""


class EventBuffer(Generic[T]):
    """`hold_for_leavers=False` lets the buffer trim past where the last reader left: for a buffer
    that is only a cache of a log kept elsewhere (a Redis run's), whose resumes can read the log."""

    def __init__(self, capacity: int, *, hold_for_leavers: bool = True) -> None:
        self.capacity = capacity
        self.closed = False
        self._hold_for_leavers = hold_for_leavers
        self._items: list[T] = []  # seq first_seq ... last_seq
        self._first_seq = 1
        self._last_seq = 0
        self._cursors: dict[object, int] = {}  # attached reader -> the next seq it reads
        self._floor = 1  # the oldest seq a reader still needs
        self._appended = asyncio.Event()
        self._advanced = asyncio.Event()

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def first_seq(self) -> int:
        """The oldest seq still kept."""
        return self._first_seq

    def slowest_reader(self) -> int | None:
        """The next seq of the attached reader furthest behind; None with no reader attached."""
        return min(self._cursors.values(), default=None)

    async def put(self, item: T) -> None:
        """Appends `item`, first waiting while the slowest reader is `capacity` events behind."""
        while self._last_seq - self._floor + 1 >= self.capacity:
            advanced = self._advanced
            await advanced.wait()
        self.put_nowait(item)

    def put_nowait(self, item: T) -> None:
        """Appends without waiting: for the few closing events, which must not block cancellation."""
        self._last_seq += 1
        self._items.append(item)
        # Trim in batches of a quarter, so appends stay O(1) amortized.
        if len(self._items) > self.capacity + self.capacity // 4:
            needed = self._floor if self._cursors or self._hold_for_leavers else self._last_seq + 1
            drop = min(len(self._items) - self.capacity, needed - self._first_seq)
            if drop > 0:
                del self._items[:drop]
                self._first_seq += drop
        self._appended = _fire(self._appended)

    def close(self) -> None:
        self.closed = True
        self._appended = _fire(self._appended)

    async def read(self, after: int, batch: int = 256) -> AsyncGenerator[list[tuple[int, T]], None]:
        """(seq, item) for every seq > `after`: kept ones first, then new ones until closed, in
        batches of what is there (at most `batch`), so a reader behind the producer catches up
        in few writes. Raises ResumeGap if some of them are no longer kept."""
        reader = object()
        next_seq = after + 1
        self._cursors[reader] = next_seq
        try:
            while True:
                appended = self._appended  # taken before reading, so no append goes unnoticed
                while next_seq <= self._last_seq:
                    if next_seq < self._first_seq:
                        raise ResumeGap(f"The events after number {next_seq - 1} are no longer kept.")
                    end = min(self._last_seq + 1, next_seq + batch)  # exclusive
                    start = next_seq - self._first_seq
                    items = self._items[start : start + end - next_seq]
                    yield list(zip(range(next_seq, end), items, strict=True))
                    next_seq = end
                    self._move(reader, next_seq)
                if self.closed:
                    return
                await appended.wait()
        finally:
            del self._cursors[reader]
            self._update_floor()

    def _move(self, reader: object, next_seq: int) -> None:
        self._cursors[reader] = next_seq
        self._update_floor()

    def _update_floor(self) -> None:
        # With no reader left, the floor stays where the last one was: its client's resume point.
        floor = min(self._cursors.values(), default=self._floor)
        if floor != self._floor:
            self._floor = floor
            self._advanced = _fire(self._advanced)


def _fire(event: asyncio.Event) -> asyncio.Event:
    """Wakes everyone waiting on `event`; returns a fresh one for the next wait."""
    event.set()
    return asyncio.Event()
