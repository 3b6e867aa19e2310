"""BackgroundLoop: the only code that owns a thread or an event loop.

One long-lived asyncio loop runs on a daemon thread per process. ADK runners, session
services and model clients are created and used on it only, so loop-bound clients (httpx,
aiosqlite) never see a second loop. Sync callers such as Streamlit's script thread consume
async streams through `iterate`, which turns an async iterator into a plain generator.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Generic, TypeVar

from streaming_core.events import Heartbeat

logger = logging.getLogger(__name__)

T = TypeVar("T")

HEARTBEAT = Heartbeat()
_CLEANUP_WAIT_S = 5.0
# Items follow one another to the consumer no more often than a 60 Hz screen shows frames...
_HANDOVER_INTERVAL_S = 1 / 60
# ...and, while they are made faster than this (a burst nobody reads item by item), no more often
# than the consumer redraws, when it says (`burst_interval`). Each hand-over to a thread that must
# take the GIL from a busy loop costs ~300 µs of CPU on a 2-core VM (issue 12): at the pages' 20 a
# second instead of 60, a zero-delay model's chunks cost the bridge 1–2 µs less each.
_BURST_ITEMS_PER_S = 2000
# Items made and not yet taken by the consumer, at most: a loop thread that outruns a slow consumer
# waits, so a long answer never piles up in the hand-over queue (without the bound a test stream ran
# its whole 4,096 items ahead of a consumer that sleeps 50 µs per item).
_MAX_AHEAD = 1024


@dataclass(frozen=True, slots=True)
class _Failure:
    error: BaseException


class _End:
    pass


_END = _End()


class BackgroundLoop:
    """An event loop on a daemon thread, with sync entry points for other threads."""

    def __init__(self, name: str = "streaming-core-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def run(self, make_coro: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Runs a coroutine on the loop and returns its result to the calling thread."""

        async def call() -> T:
            return await make_coro()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    def iterate(
        self,
        make_stream: Callable[[], AsyncIterator[T]],
        *,
        heartbeat: float | None = 0.1,
        burst_interval: float | None = None,
    ) -> Generator[T | Heartbeat, None, None]:
        """Drains an async iterator created on the loop, as a sync generator.

        Yields HEARTBEAT when nothing arrived for `heartbeat` seconds, so a consumer waiting
        on a slow model regains control (Streamlit checks for Stop only when the script runs).
        A consumer that redraws at most every `burst_interval` seconds is handed items that
        often during a burst. Closing the generator early cancels the task on the loop and waits
        for its cleanup.
        """
        return _SyncStream(self._loop, make_stream, heartbeat, burst_interval).drain()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_CLEANUP_WAIT_S)


class _SyncStream(Generic[T]):
    """Hands a stream's items from the loop thread to the consumer thread, in batches while they
    come fast.

    Each hand-over to a waiting consumer wakes its thread, which then takes the GIL from the busy
    loop thread and gives it back: on the scripted model's bursts, about 2 µs of CPU per item
    between the two threads when items went one by one (issue 12). An item is handed over at
    once when the last hand-over is `_HANDOVER_INTERVAL_S` old (the consumer's `burst_interval`
    after a hand-over of a burst), so the first one and each after a pause come as they are made;
    one that follows sooner goes with every item made meanwhile when that interval is up (a loop
    timer). Every item is still yielded on its own, in order. The loop side waits while
    `_MAX_AHEAD` items are made and not yet taken; the consumer wakes it only then.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        make_stream: Callable[[], AsyncIterator[T]],
        heartbeat: float | None,
        burst_interval: float | None,
    ) -> None:
        self._loop = loop
        self._make_stream = make_stream
        self._heartbeat = heartbeat
        self._burst_interval = max(burst_interval or 0.0, _HANDOVER_INTERVAL_S)
        self._items: queue.SimpleQueue[list[T] | _Failure | _End] = queue.SimpleQueue()
        self._finished = threading.Event()
        # Touched on the loop thread only:
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._batch: list[T] = []  # made, not handed over yet
        self._handover: asyncio.TimerHandle | None = None  # when `_batch` goes
        self._handed_at = float("-inf")  # loop time of the last hand-over
        self._quiet_until = 0.0  # loop time before which an item waits for the next hand-over
        # Each counter is written by one thread only: items handed over (loop), items taken (consumer).
        self._handed = 0
        self._taken = 0
        self._room: asyncio.Event | None = None  # set while the loop side waits for the consumer

    def drain(self) -> Generator[T | Heartbeat, None, None]:
        asyncio.run_coroutine_threadsafe(self._pump(), self._loop)
        try:
            while True:
                try:
                    batch = self._items.get(timeout=self._heartbeat)
                except queue.Empty:
                    yield HEARTBEAT
                    continue
                if isinstance(batch, _End):
                    return
                if isinstance(batch, _Failure):
                    raise batch.error
                yield from batch
                self._taken += len(batch)
                room = self._room
                if room is not None:
                    self._loop.call_soon_threadsafe(room.set)
        finally:
            self._loop.call_soon_threadsafe(self._cancel)
            # Block until the async side has run its cleanup (aclose, session writes),
            # so a rerun never races the previous stream's finally blocks.
            if not self._finished.wait(_CLEANUP_WAIT_S):
                logger.warning("stream cleanup still running after %.0f s", _CLEANUP_WAIT_S)

    def _cancel(self) -> None:
        self._closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _hand_over(self) -> None:
        if self._handover is not None:
            self._handover.cancel()
            self._handover = None
        if batch := self._batch:
            self._items.put(batch)
            self._handed += len(batch)
            self._batch = []
            now = self._loop.time()
            # `batch` is what was made since the last hand-over, at least 1/60 s ago or waiting for it.
            bursting = len(batch) > _BURST_ITEMS_PER_S * max(now - self._handed_at, _HANDOVER_INTERVAL_S)
            self._handed_at = now
            self._quiet_until = now + (self._burst_interval if bursting else _HANDOVER_INTERVAL_S)

    async def _wait_for_room(self) -> None:
        """Hands everything over and waits until the consumer has taken it but half of `_MAX_AHEAD`."""
        self._hand_over()
        self._room = room = asyncio.Event()
        try:
            # The consumer reads `_room` after counting what it took, and the count is read here
            # after `_room` is set: a wake-up can come late but is never missed.
            while self._handed - self._taken > _MAX_AHEAD // 2:
                room.clear()
                await room.wait()
        finally:
            self._room = None

    async def _pump(self) -> None:
        if self._closed:  # closed before the task got to run
            self._finished.set()
            return
        self._task = asyncio.current_task()
        stream: AsyncIterator[T] | None = None
        try:
            stream = self._make_stream()
            async for item in stream:
                self._batch.append(item)
                if self._handed + len(self._batch) - self._taken >= _MAX_AHEAD:
                    await self._wait_for_room()
                elif self._handover is None:
                    if self._loop.time() >= self._quiet_until:
                        self._hand_over()
                    else:
                        self._handover = self._loop.call_at(self._quiet_until, self._hand_over)
            self._hand_over()
            self._items.put(_END)
        except Exception as error:  # handed to the consumer thread, which re-raises it
            self._hand_over()
            self._items.put(_Failure(error))
        finally:
            if self._handover is not None:
                self._handover.cancel()
            try:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
            finally:
                self._finished.set()


_shared_loop: BackgroundLoop | None = None
_shared_lock = threading.Lock()


def get_background_loop() -> BackgroundLoop:
    """The process-wide loop, started on first use."""
    global _shared_loop
    with _shared_lock:
        if _shared_loop is None:
            _shared_loop = BackgroundLoop()
        return _shared_loop
