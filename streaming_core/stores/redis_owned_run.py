"""The producing side of a Redis run, in the worker that started it.

Each event is logged to the run's stream first and only then handed to this worker's own readers,
from memory: a client of the worker that answers costs no Redis read, and no client ever sees an
event that another worker could not replay (a worker that dies loses nothing that was sent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from functools import partial
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError, ResponseError

from streaming_core.api.buffer import EventBuffer
from streaming_core.api.encoding import END
from streaming_core.assistant import Turn
from streaming_core.events import StreamError
from streaming_core.model_seam import current_outlet
from streaming_core.stores import redis_keys as keys
from streaming_core.stores.redis_events import StoredEvent
from streaming_core.stores.runs import RunStoreUnavailable

if TYPE_CHECKING:
    from streaming_core.stores.redis_runs import RedisRunStore

logger = logging.getLogger(__name__)

STORE_FAILED = "The run store (Redis) failed while this answer streamed; ask again once it is back."
BACKPRESSURE_POLL_S = 0.02

Batch = list[tuple[int, StoredEvent]]


class LogLost(RunStoreUnavailable):
    """The run's stream is gone (Redis restarted empty, or the run expired): nothing more is logged."""


class OwnedRun:
    def __init__(self, store: RedisRunStore, run_id: str, fields: dict[str, str], turn: Turn) -> None:
        self._store = store
        self.id = run_id
        self.fields = fields
        self.seq = 0  # the last seq logged
        self.readers = 0  # this worker's; other workers' are in Redis
        self.logged_end = False
        # What was logged, for this worker's readers; a resume it no longer holds reads the stream.
        self.log: EventBuffer[StoredEvent] = EventBuffer(store.settings.buffer_events, hold_for_leavers=False)
        self._floor = 1
        self._ended = False  # the end is logged, or nothing more can be
        self._expiry: asyncio.TimerHandle | None = None
        self._writing: asyncio.Future[list[Any]] | None = None  # the last event's XADD
        self._written: dict[object, int] = {}  # this worker's reader -> the last seq written to its client
        self._all_written = asyncio.Event()
        self.task = asyncio.create_task(self._produce(turn), name=f"run-{run_id}")
        self.task.add_done_callback(self._on_done)
        self.schedule_expiry()  # a run nobody attaches to expires too

    @property
    def sending(self) -> bool:
        """An event is on its way to a client of this worker (model_seam.Outlet): the model seam joins
        the text deltas that are ready meanwhile, as for a run in memory."""
        return any(written < self.seq for written in self._written.values())

    async def sent(self) -> None:
        while self.sending:
            self._all_written.clear()
            await self._all_written.wait()

    async def _produce(self, turn: Turn) -> None:
        settings = self._store.settings
        current_outlet.set(self)  # this task's context, inherited by the tasks ADK starts for the turn
        try:
            async with aclosing(turn.events(mode="sse", timeout_s=settings.turn_timeout_s)) as events:
                async for event in events:
                    await self._append(StoredEvent.of(event), wait=True)
        except asyncio.CancelledError:
            logger.info("run %s cancelled (Stop, no client within the grace period, or shutdown)", self.id)
            await self._finish(StreamError("cancelled", "The answer was cancelled; the partial answer is kept."))
            raise
        except LogLost:
            logger.warning("run %s stopped: its log is gone from the run store (Redis restarted empty?)", self.id)
            self._end_here()
        except ResponseError as error:
            # Our next id was taken: another worker found our lease lapsed (a stalled process) and
            # ended the run. Closing the turn cancelled the model call and kept the partial answer.
            logger.warning("run %s was taken over by another worker: %s", self.id, error)
            self._end_here()
        except (RedisError, OSError) as error:
            # As above. Readers would see Redis down themselves, but Redis back (restarted) with this
            # run's keys makes them wait for an end: log it as soon as Redis takes writes again.
            logger.warning("run %s stopped: the run store failed: %s", self.id, error)
            self._end_here()
            self._store.spawn(self._finish_when_back())
        except Exception:  # Turn.events turns failures into events; this is a bug, not a fault
            logger.exception("run %s failed outside the stream", self.id)
            await self._finish(StreamError("internal", "The server failed while answering; try again."))
        else:
            await self._finish(None)

    def _end_here(self) -> None:
        """No end can be logged now: this worker's readers go on from the stream (see RedisRun.replay)."""
        self._ended = True
        self.log.close()

    async def _finish(self, error: StreamError | None) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            if error is not None:
                await self._append(StoredEvent.of(error), wait=False)
            await self._append(StoredEvent.of(END), wait=False)
            # Ended: nothing left for another worker to take over should this one die.
            await self._store.pipeline(lambda pipe: pipe.srem(keys.worker_runs(self._store.worker_id), self.id))
        except (RedisError, OSError, RunStoreUnavailable) as failure:
            logger.warning("run %s: could not log its end: %s", self.id, failure)
        finally:
            self.log.close()

    async def _finish_when_back(self, attempts: int = 20) -> None:
        for _ in range(attempts):
            await asyncio.sleep(0.5)
            try:
                await self._append(StoredEvent.of(StreamError("store", STORE_FAILED, retryable=True)), wait=False)
                await self._append(StoredEvent.of(END), wait=False)
                return
            except LogLost:
                return  # Redis came back empty: no reader can find this run any more
            except (RedisError, OSError):
                continue  # still down; its readers fail on their own reads meanwhile

    def _on_done(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never runs _produce; readers must still see the end.
        if not self._ended:
            self._store.spawn(self._finish(StreamError("cancelled", "The answer was cancelled.")))

    async def _append(self, item: StoredEvent, *, wait: bool) -> None:
        store = self._store
        if wait:
            await self._wait_for_room()
        if self._writing is not None and not self._writing.done():
            # A write whose waiter was cancelled still goes out: its outcome decides the next seq.
            await asyncio.wait([self._writing])
        seq = self.seq + 1  # taken only once written (in _logged): a failed write must not leave a hole
        # The cap is a safety net: backpressure keeps every unread event within it.
        cap, log, fields = store.settings.buffer_events + 4, keys.log(self.id), item.fields()

        def commands(pipe: Any) -> None:
            if seq == 1:
                pipe.xadd(log, fields, id="1-0", maxlen=cap, approximate=False)
                pipe.expire(log, store.retention_s)
            else:
                pipe.xadd(log, fields, id=f"{seq}-0", maxlen=cap, approximate=False, nomkstream=True)

        # Written together with every other run's events of this loop iteration (one round trip).
        self._writing = writing = store.pipeline(commands)
        writing.add_done_callback(partial(self._logged, seq, item))
        replies = await asyncio.shield(writing)  # _logged has run by now: callbacks run in order
        if replies[0] is None:
            raise LogLost(STORE_FAILED)

    def _logged(self, seq: int, item: StoredEvent, writing: asyncio.Future[list[Any]]) -> None:
        if writing.cancelled() or writing.exception() is not None or writing.result()[0] is None:
            return
        self.seq = seq
        if item.is_end:
            self.logged_end = True
        self.log.put_nowait(item)

    async def _wait_for_room(self) -> None:
        capacity = self._store.settings.buffer_events
        while self.seq - self._floor + 1 >= capacity:
            self._floor = await self._store.floor(self.id, self.log.slowest_reader())
            if self.seq - self._floor + 1 >= capacity:
                await asyncio.sleep(BACKPRESSURE_POLL_S)  # polling a slow reader's position; rare

    async def read(self, after: int) -> AsyncGenerator[Batch, None]:
        """What this worker logged after `after`, from memory, until the end or until this worker can
        log no more (then the caller goes on from the stream)."""
        self.readers += 1
        self.keep()
        next_seq, reader = after + 1, object()
        self._written[reader] = after
        try:
            async with aclosing(self.log.read(after)) as batches:
                async for batch in batches:
                    next_seq = batch[-1][0] + 1
                    yield batch
                    self._written[reader] = batch[-1][0]  # asked for more: this batch is written
                    if not self.sending:
                        self._all_written.set()
        finally:
            del self._written[reader]
            self._all_written.set()
            self.readers -= 1
            if not self.readers:
                self._store.spawn(self._store.left(self.id, next_seq))

    def schedule_expiry(self) -> None:
        if self._expiry is None:
            self._expiry = asyncio.get_running_loop().call_later(self._store.settings.grace_s, self._expire)

    def keep(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _expire(self) -> None:
        self._expiry = None
        self._store.spawn(self._store.forget(self.id, delete_log=True))
        self.cancel()

    def cancel(self) -> None:
        self.keep()
        if not self.task.done():
            self.task.cancel()
