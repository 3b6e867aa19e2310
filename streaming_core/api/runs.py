"""Runs: each answer streams in its own task into a bounded, numbered buffer that clients read.

A client that drops and comes back with `Last-Event-ID: <run_id>:<seq>` reads on from seq + 1,
so nothing is lost or repeated. A run lives while a client is attached and `grace_s` after
the last one leaves; if it is still generating then, its task is cancelled, which cancels
the model call (no orphaned generation), and the run is forgotten. A run is its turn's outlet
(`model_seam.Outlet`): while an event is on its way to an attached client, the model seam joins
the text deltas that are ready meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from streaming_core.api.buffer import EventBuffer
from streaming_core.api.encoding import END, RunItem
from streaming_core.assistant import Turn
from streaming_core.errors import StreamingCoreError
from streaming_core.events import StreamError
from streaming_core.model_seam import current_outlet
from streaming_core.stores.runs import KeepPartial, RunHandle, RunSettings

logger = logging.getLogger(__name__)


class RegistryFull(StreamingCoreError):
    """The server keeps as many runs as it may; answered with 503 and Retry-After."""


@dataclass(frozen=True, slots=True)
class EventId:
    """`<run_id>:<seq>`, the `id:` of every event; seq counts from 1 within a run."""

    run_id: str
    seq: int

    def __str__(self) -> str:
        return f"{self.run_id}:{self.seq}"

    @classmethod
    def parse(cls, raw: str) -> EventId | None:
        run_id, _, seq = raw.strip().rpartition(":")
        if not run_id or not seq.isdigit() or len(seq) > 12:
            return None
        return cls(run_id, int(seq))


class Run:
    """One answer being generated, and the events it produced so far."""

    def __init__(self, run_id: str, turn: Turn, user_id: str, registry: RunRegistry) -> None:
        self.id = run_id
        self.session_id = turn.session_id
        self.user_id = user_id
        self._registry = registry
        self._buffer: EventBuffer[RunItem] = EventBuffer(registry.buffer_events)
        self._clients = 0
        self._written: dict[object, int] = {}  # attached reader -> the last seq written to its client
        self._all_written = asyncio.Event()
        self._expiry: asyncio.TimerHandle | None = None
        self.task = asyncio.create_task(self._produce(turn, registry.turn_timeout_s), name=f"run-{run_id}")
        self.task.add_done_callback(self._end)
        self._schedule_expiry()  # a run nobody attaches to expires too

    @property
    def last_seq(self) -> int:
        return self._buffer.last_seq

    @property
    def finished(self) -> bool:
        return self._buffer.closed

    def attach(self) -> None:
        self._clients += 1
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def detach(self) -> None:
        self._clients -= 1
        if self._clients == 0:
            self._schedule_expiry()

    @property
    def sending(self) -> bool:
        last = self._buffer.last_seq
        return any(seq < last for seq in self._written.values())

    async def sent(self) -> None:
        while self.sending:
            self._all_written.clear()
            await self._all_written.wait()

    async def replay(self, after: int) -> AsyncGenerator[list[tuple[int, RunItem]], None]:
        """Events with seq > `after`, kept ones first, then live ones until the end, in batches.
        A batch counts as written when the next one is asked for."""
        reader = object()
        self._written[reader] = after
        try:
            async with aclosing(self._buffer.read(after)) as batches:
                async for batch in batches:
                    yield batch
                    self._written[reader] = batch[-1][0]
                    if not self.sending:
                        self._all_written.set()
        finally:
            del self._written[reader]
            self._all_written.set()

    async def _produce(self, turn: Turn, timeout_s: float) -> None:
        current_outlet.set(self)  # this task's context, inherited by the tasks ADK starts for the turn
        try:
            async with aclosing(turn.events(mode="sse", timeout_s=timeout_s)) as events:
                async for event in events:
                    await self._buffer.put(event)
        except asyncio.CancelledError:
            logger.info("run %s cancelled (Stop, no client within the grace period, or shutdown)", self.id)
            self._buffer.put_nowait(StreamError("cancelled", "The answer was cancelled; the partial answer is kept."))
            raise
        except Exception:  # Turn.events turns failures into events; this is a bug, not a fault
            logger.exception("run %s failed outside the stream", self.id)
            self._buffer.put_nowait(StreamError("internal", "The server failed while answering; try again."))
        finally:
            self._end()

    def _end(self, task: object = None) -> None:
        # Also a task done-callback: a task cancelled before its first step never runs
        # _produce's `finally`, and readers must still see the end.
        if not self._buffer.closed:
            self._buffer.put_nowait(END)
            self._buffer.close()

    def _schedule_expiry(self) -> None:
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(self._registry.grace_s, self._expire)

    def cancel(self) -> None:
        """Stops generating (cancelling the model call) and forgets the run."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if not self.task.done():
            self.task.cancel()
        self._registry.forget(self)

    def _expire(self) -> None:
        self._expiry = None
        self.cancel()


class RunRegistry:
    """The runs of one event loop, by id: the `memory://` run store. Create it lazily on that loop;
    `aclose()` on shutdown."""

    def __init__(self, settings: RunSettings) -> None:
        self.grace_s = settings.grace_s
        self.buffer_events = settings.buffer_events
        self.max_runs = settings.max_runs
        self.turn_timeout_s = settings.turn_timeout_s
        self._runs: dict[str, Run] = {}

    def __len__(self) -> int:
        return len(self._runs)

    async def open(self, keep_partial: KeepPartial) -> None:
        """Nothing to connect to, and no other worker whose runs could need taking over."""

    async def count(self) -> int:
        return len(self._runs)

    async def check_capacity(self) -> None:
        if len(self._runs) >= self.max_runs:
            raise RegistryFull("The server is busy with other answers; try again shortly.")

    async def start(self, turn: Turn, user_id: str) -> Run:
        await self.check_capacity()
        run = Run(secrets.token_urlsafe(16), turn, user_id, self)
        self._runs[run.id] = run
        return run

    async def find(self, run_id: str, user_id: str) -> Run | None:
        """The run, if it still exists and belongs to `user_id` (else it looks unknown)."""
        run = self._runs.get(run_id)
        return run if run is not None and run.user_id == user_id else None

    async def cancel(self, run: RunHandle) -> None:
        assert isinstance(run, Run)
        run.cancel()

    def forget(self, run: Run) -> None:
        self._runs.pop(run.id, None)

    async def aclose(self) -> None:
        """Cancels every run and waits for them, so no run task outlives the app."""
        runs = list(self._runs.values())
        for run in runs:
            run.cancel()
        await asyncio.gather(*(run.task for run in runs), return_exceptions=True)
