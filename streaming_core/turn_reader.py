"""Reads one turn's ADK events under one deadline timer, pacing the model to the reader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from types import TracebackType

from google.adk.events.event import Event

from streaming_core.model_seam import TurnPacer, current_pacer


class TurnReader:
    """`await reader.next()` is the turn's next ADK event, or TimeoutError once `deadline` (loop
    time) has passed. One timer per turn, instead of a timeout scope per chunk: it cancels only
    a wait for ADK, never the reader's own work between events, which a scope around the whole
    loop would cancel too. Enter it in the task that reads, before ADK starts the agent's task,
    so the model seam inherits the pacer. `coalesce` lets the seam join text deltas that are ready
    while the reader is behind."""

    def __init__(self, events: AsyncGenerator[Event, None], deadline: float | None, *, coalesce: bool = True) -> None:
        self._events = events
        self._deadline = deadline
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self.expired = False
        self.pacer = TurnPacer(coalesce=coalesce)

    def __enter__(self) -> TurnReader:
        self._task = asyncio.current_task()
        current_pacer.set(self.pacer)
        if self._deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(self._deadline, self._expire)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.pacer.finished()

    def _expire(self) -> None:
        self.expired = True
        if self.pacer.reader_waiting and self._task is not None:  # a wait for ADK, not our own work
            self._task.cancel()

    async def next(self) -> Event:
        """Raises StopAsyncIteration at the end, TimeoutError past the deadline."""
        if self.expired:
            raise TimeoutError
        pacer = self.pacer
        pacer.reader_waiting = True
        try:
            event = await self._events.__anext__()
        except asyncio.CancelledError:
            # Ours if the timer fired and nobody else cancelled too (then the cancel goes on).
            if self.expired and self._task is not None and self._task.uncancel() == 0:
                raise TimeoutError from None
            raise
        finally:
            pacer.reader_waiting = False
        if event.partial:
            pacer.took_one()
        return event
