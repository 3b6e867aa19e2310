"""The `redis://` run store: a run's numbered events in a Redis Stream, readable by every worker.

The worker that starts a run owns it: its task produces the events (XADD, entry id `<seq>-0`),
it keeps the grace period (readers on any worker register in a sorted set and tell the owner
over pub/sub), and it cancels the model call when any worker publishes `cancel`. A reader on
any worker replays from an id with XREAD, so a resume needs no sticky sessions. Backpressure as
in memory: the producer waits while the slowest reader is `buffer_events` behind, so the capped
stream never drops an event a reader still needs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncGenerator, Coroutine
from contextlib import aclosing
from typing import Any

from redis.exceptions import RedisError, ResponseError

from streaming_core.api.buffer import ResumeGap
from streaming_core.api.encoding import END
from streaming_core.api.runs import RegistryFull
from streaming_core.assistant import Turn
from streaming_core.events import StreamError
from streaming_core.stores import redis_keys as keys
from streaming_core.stores.redis_client import check_reachable, redis_client
from streaming_core.stores.redis_events import StoredEvent
from streaming_core.stores.runs import KeepPartial, RunSettings, RunStoreUnavailable
from streaming_core.stores.worker_lease import WorkerLease

logger = logging.getLogger(__name__)

STORE_FAILED = "The run store (Redis) failed while this answer streamed; ask again once it is back."
LOST_LOG = "The run store (Redis) lost this answer's log, probably in a restart; ask again."
READ_BLOCK_MS = 1000  # a reader wakes at least this often, to stay registered
BACKPRESSURE_POLL_S = 0.02


class RedisRun:
    """A run as any worker sees it: found by id, replayed from the stream."""

    def __init__(self, store: RedisRunStore, run_id: str, fields: dict[str, str], last_seq: int, finished: bool):
        self._store = store
        self.id = run_id
        self.session_id = fields["session"]
        self.user_id = fields["user"]
        self.owner = fields["owner"]
        self._last_seq = last_seq
        self._finished = finished

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def finished(self) -> bool:
        return self._finished

    def attach(self) -> None:
        """Readers register when they start replaying, with their position (see `replay`)."""

    def detach(self) -> None:
        """See `attach`."""

    async def replay(self, after: int) -> AsyncGenerator[list[tuple[int, Any]], None]:
        redis, reader = self._store.redis, secrets.token_hex(8)
        next_seq = after + 1
        try:
            await self._move(reader, next_seq)
            oldest = await redis.xrange(keys.log(self.id), "-", "+", count=1)
            if oldest and keys.seq_of(oldest[0][0]) > next_seq:
                raise ResumeGap(f"The events after number {after} are no longer kept.")
            while True:
                # The position goes with the read: one round trip, and the owner sees progress.
                pipe = redis.pipeline(transaction=False)
                pipe.zadd(keys.readers(self.id), {reader: next_seq})
                pipe.xread({keys.log(self.id): f"{next_seq - 1}-0"}, count=256, block=READ_BLOCK_MS)
                _, response = await pipe.execute()
                if not response:
                    # No news. An orphaned run is finished by the worker that takes it over; a run whose
                    # keys are gone without an end (Redis restarted empty) will never send more.
                    if not await redis.exists(keys.meta(self.id)):
                        raise RunStoreUnavailable(LOST_LOG)
                    continue
                batch = [
                    (keys.seq_of(entry_id), StoredEvent.from_fields(fields)) for entry_id, fields in response[0][1]
                ]
                if batch[0][0] != next_seq:
                    raise ResumeGap(f"The events after number {next_seq - 1} are no longer kept.")
                self._last_seq = max(self._last_seq, batch[-1][0])
                yield batch
                next_seq = batch[-1][0] + 1
                if batch[-1][1].is_end:
                    self._finished = True
                    return
        except (RedisError, OSError) as error:
            logger.warning("run %s: reading the run store failed: %s", self.id, error)
            raise RunStoreUnavailable(STORE_FAILED) from None
        finally:
            # A task of its own: this generator may be closed inside a cancelled scope, where awaits fail.
            self._store.spawn(self._leave(reader, next_seq))

    async def _move(self, reader: str, next_seq: int) -> None:
        await self._store.redis.zadd(keys.readers(self.id), {reader: next_seq})
        await self._store.notify(self.owner, "readers", self.id)

    async def _leave(self, reader: str, next_seq: int) -> None:
        pipe = self._store.redis.pipeline(transaction=False)
        pipe.zrem(keys.readers(self.id), reader)
        pipe.hset(keys.meta(self.id), "floor", next_seq)  # with no reader left, the last one's place
        await pipe.execute()
        await self._store.notify(self.owner, "readers", self.id)


class OwnedRun:
    """The producing side of a run, in the worker that started it."""

    def __init__(self, store: RedisRunStore, run_id: str, turn: Turn) -> None:
        self._store = store
        self.id = run_id
        self.seq = 0
        self._floor = 1
        self._ended = False
        self._expiry: asyncio.TimerHandle | None = None
        self.task = asyncio.create_task(self._produce(turn), name=f"run-{run_id}")
        self.task.add_done_callback(self._on_done)
        self.schedule_expiry()  # a run nobody attaches to expires too

    async def _produce(self, turn: Turn) -> None:
        settings = self._store.settings
        try:
            async with aclosing(turn.events(mode="sse", timeout_s=settings.turn_timeout_s)) as events:
                async for event in events:
                    await self._append(StoredEvent.of(event), wait=True)
        except asyncio.CancelledError:
            logger.info("run %s cancelled (Stop, no client within the grace period, or shutdown)", self.id)
            await self._finish(StreamError("cancelled", "The answer was cancelled; the partial answer is kept."))
            raise
        except ResponseError as error:
            # Our next id was taken: another worker found our lease lapsed (a stalled process) and
            # ended the run. Closing the turn cancelled the model call and kept the partial answer.
            logger.warning("run %s was taken over by another worker: %s", self.id, error)
            self._ended = True
        except (RedisError, OSError) as error:
            # As above. Readers would see Redis down themselves, but Redis back (restarted) with this
            # run's keys makes them wait for an end: log it as soon as Redis takes writes again.
            logger.warning("run %s stopped: the run store failed: %s", self.id, error)
            self._store.spawn(self._finish_when_back())
        except Exception:  # Turn.events turns failures into events; this is a bug, not a fault
            logger.exception("run %s failed outside the stream", self.id)
            await self._finish(StreamError("internal", "The server failed while answering; try again."))
        else:
            await self._finish(None)

    async def _finish(self, error: StreamError | None) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            if error is not None:
                await self._append(StoredEvent.of(error), wait=False)
            await self._append(StoredEvent.of(END), wait=False)
            # Ended: nothing left for another worker to take over should this one die.
            await self._store.redis.srem(keys.worker_runs(self._store.worker_id), self.id)
        except (RedisError, OSError) as failure:
            logger.warning("run %s: could not log its end: %s", self.id, failure)

    async def _finish_when_back(self, attempts: int = 20) -> None:
        for _ in range(attempts):
            await asyncio.sleep(0.5)
            try:
                await self._append(StoredEvent.of(StreamError("store", STORE_FAILED, retryable=True)), wait=False)
                await self._append(StoredEvent.of(END), wait=False)
                self._ended = True
                return
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
        seq = self.seq + 1  # taken only once written: a failed write must not leave a hole
        pipe = store.redis.pipeline(transaction=False)
        # The cap is a safety net: backpressure keeps every unread event within it.
        cap = store.settings.buffer_events + 4
        pipe.xadd(keys.log(self.id), item.fields(), id=f"{seq}-0", maxlen=cap, approximate=False)
        if seq == 1:
            pipe.expire(keys.log(self.id), store.retention_s)
        await pipe.execute()
        self.seq = seq

    async def _wait_for_room(self) -> None:
        capacity = self._store.settings.buffer_events
        while self.seq - self._floor + 1 >= capacity:
            self._floor = await self._store.floor(self.id)
            if self.seq - self._floor + 1 >= capacity:
                await asyncio.sleep(BACKPRESSURE_POLL_S)  # polling a slow reader's position; rare

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


class RedisRunStore:
    """The runs of every worker, in Redis; this object is one worker's part. Create it on the
    serving loop and `open()` it there; `aclose()` on shutdown."""

    def __init__(self, url: str, settings: RunSettings) -> None:
        self.url = url
        self.settings = settings
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        # Every key of a run expires by itself even if no worker is left to delete it.
        self.retention_s = int(settings.turn_timeout_s + settings.grace_s + 60)
        self._owned: dict[str, OwnedRun] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lease: WorkerLease | None = None

    @property
    def redis(self) -> Any:
        return redis_client(self.url)

    def __len__(self) -> int:
        return len(self._owned)

    async def open(self, keep_partial: KeepPartial) -> None:
        await check_reachable(self.url)
        self.spawn(self._listen())
        self._lease = WorkerLease(self, keep_partial)
        self._lease.start()
        self.spawn(self._lease.watch())

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Runs `work` in a task this store keeps a reference to (and cancels on close). A Redis
        failure there is logged: the keys it would have touched expire by themselves."""
        task = asyncio.create_task(_logging_store_failures(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def count(self) -> int:
        return int(await self._guard(self.redis.scard(keys.RUNS)))

    async def check_capacity(self) -> None:
        if len(self._owned) >= self.settings.max_runs:
            raise RegistryFull("The server is busy with other answers; try again shortly.")

    async def start(self, turn: Turn, user_id: str) -> RedisRun:
        await self.check_capacity()
        run_id = secrets.token_urlsafe(16)
        session = turn.session
        fields = {
            "user": user_id,
            "session": session.id,
            "app": session.app_name,
            "author": turn.assistant.agent.name,
            "owner": self.worker_id,
            "floor": "1",
        }
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.meta(run_id), mapping=fields)
        pipe.expire(keys.meta(run_id), self.retention_s)
        pipe.sadd(keys.RUNS, run_id)
        pipe.sadd(keys.worker_runs(self.worker_id), run_id)
        await self._guard(pipe.execute())
        self._owned[run_id] = OwnedRun(self, run_id, turn)
        return RedisRun(self, run_id, fields, 0, False)

    async def find(self, run_id: str, user_id: str) -> RedisRun | None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.meta(run_id))
        pipe.xrevrange(keys.log(run_id), "+", "-", count=1)
        raw, newest = await self._guard(pipe.execute())
        fields = {key.decode(): value.decode() for key, value in raw.items()}
        if fields.get("user") != user_id:  # gone, or someone else's: both look unknown
            return None
        last_seq = keys.seq_of(newest[0][0]) if newest else 0
        finished = bool(newest) and StoredEvent.from_fields(newest[0][1]).is_end
        return RedisRun(self, run_id, fields, last_seq, finished)

    async def cancel(self, run: Any) -> None:
        assert isinstance(run, RedisRun)
        if run.owner == self.worker_id:
            self._cancel_owned(run.id)
        else:
            await self._guard(self.notify(run.owner, "cancel", run.id))
        await self.forget(run.id, delete_log=False)  # attached readers read on to the end

    async def forget(self, run_id: str, *, delete_log: bool) -> None:
        """The run is unknown from now on (for find, resume and DELETE), on every worker."""
        self._owned.pop(run_id, None)
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(keys.meta(run_id), keys.readers(run_id))
        pipe.srem(keys.RUNS, run_id)
        pipe.srem(keys.worker_runs(self.worker_id), run_id)
        if delete_log:
            pipe.delete(keys.log(run_id))
        else:
            pipe.expire(keys.log(run_id), max(5, int(self.settings.grace_s)))
        try:
            await pipe.execute()
        except (RedisError, OSError) as error:
            logger.warning("could not forget run %s: %s", run_id, error)  # its keys expire by themselves

    async def floor(self, run_id: str) -> int:
        """The oldest seq a reader still needs: the slowest attached reader, else the last to leave."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(keys.readers(run_id), 0, 0, withscores=True)
        pipe.hget(keys.meta(run_id), "floor")
        slowest, left_at = await pipe.execute()
        if slowest:
            return int(slowest[0][1])
        return int(left_at or 1)

    async def notify(self, worker_id: str, verb: str, run_id: str) -> None:
        if worker_id == self.worker_id:
            self._handle(verb, run_id)
        else:
            await self.redis.publish(keys.worker_channel(worker_id), f"{verb} {run_id}")

    async def _listen(self) -> None:
        """Cancel and reader messages for this worker's runs; resubscribes after a Redis restart."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(keys.worker_channel(self.worker_id))
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            verb, _, run_id = message["data"].decode().partition(" ")
                            self._handle(verb, run_id)
            except (RedisError, OSError) as error:
                logger.warning("run store messages interrupted: %s; reconnecting", error)
                await asyncio.sleep(0.5)

    def _handle(self, verb: str, run_id: str) -> None:
        if verb == "cancel":
            self._cancel_owned(run_id)
        elif verb == "readers" and run_id in self._owned:
            self.spawn(self._recount(run_id))

    def _cancel_owned(self, run_id: str) -> None:
        run = self._owned.pop(run_id, None)
        if run is not None:
            run.cancel()

    async def _recount(self, run_id: str) -> None:
        attached = await self.redis.zcard(keys.readers(run_id))
        run = self._owned.get(run_id)
        if run is None:
            return
        if attached:
            run.keep()
        else:
            run.schedule_expiry()

    async def _guard(self, call: Any) -> Any:
        try:
            return await call
        except (RedisError, OSError) as error:
            logger.warning("run store failed: %s", error)
            raise RunStoreUnavailable("The run store (Redis) is unreachable; try again in a moment.") from None

    async def aclose(self) -> None:
        """Cancels every owned run and waits for them, so no run task outlives the app."""
        runs = list(self._owned.values())
        for run in runs:
            run.cancel()
        await asyncio.gather(*(run.task for run in runs), return_exceptions=True)
        for run in runs:
            await self.forget(run.id, delete_log=False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._lease is not None:
            self._lease.resign()


async def _logging_store_failures(work: Coroutine[Any, Any, Any]) -> None:
    try:
        await work
    except (RedisError, OSError) as error:
        logger.warning("run store housekeeping failed: %s", error)
