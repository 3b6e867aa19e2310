"""The `redis://` run store: a run's numbered events in a Redis Stream, readable by every worker.

The worker that starts a run owns it (redis_owned_run): its task logs the events (XADD, entry id
`<seq>-0`) and serves its own clients from memory; it keeps the grace period (readers on other
workers register in a sorted set and tell the owner over pub/sub), and it cancels the model call
when any worker publishes `cancel`. Readers on other workers replay with XREAD (redis_run_handle).
Backpressure as in memory: the producer waits while the slowest reader is `buffer_events` behind,
so the capped stream never drops an event a reader still needs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Coroutine
from typing import Any

from redis.exceptions import RedisError

from streaming_core.api.runs import RegistryFull
from streaming_core.assistant import Turn
from streaming_core.stores import redis_keys as keys
from streaming_core.stores.redis_client import Pipeliner, check_reachable, redis_client, redis_pipeliner
from streaming_core.stores.redis_events import StoredEvent
from streaming_core.stores.redis_owned_run import OwnedRun
from streaming_core.stores.redis_run_handle import RedisRun
from streaming_core.stores.runs import KeepPartial, RunSettings, RunStoreUnavailable
from streaming_core.stores.worker_lease import WorkerLease

logger = logging.getLogger(__name__)


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

    @property
    def pipeline(self) -> Pipeliner:
        """For the commands of every turn: sent with the others of the same loop iteration."""
        return redis_pipeliner(self.url)

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
        run_keys = (keys.meta(run_id), keys.RUNS, keys.worker_runs(self.worker_id))
        meta = [part for field in fields.items() for part in field]
        args = (*run_keys, self.retention_s, run_id, *meta)
        await self._guard(self.pipeline(lambda pipe: pipe.eval(keys.START, 3, *args)))
        self._owned[run_id] = OwnedRun(self, run_id, fields, turn)
        return RedisRun(self, run_id, fields, 0, False)

    def owned(self, run_id: str) -> OwnedRun | None:
        return self._owned.get(run_id)

    async def find(self, run_id: str, user_id: str) -> RedisRun | None:
        owned = self._owned.get(run_id)
        if owned is not None:  # ours: no need to ask Redis
            if owned.fields["user"] != user_id:
                return None
            return RedisRun(self, run_id, owned.fields, owned.log.last_seq, owned.logged_end)
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

        def commands(pipe: Any) -> None:
            pipe.delete(keys.meta(run_id), keys.readers(run_id))
            pipe.srem(keys.RUNS, run_id)
            pipe.srem(keys.worker_runs(self.worker_id), run_id)
            if delete_log:
                pipe.delete(keys.log(run_id))
            else:
                pipe.expire(keys.log(run_id), max(5, int(self.settings.grace_s)))

        try:
            await self.pipeline(commands)
        except (RedisError, OSError) as error:
            logger.warning("could not forget run %s: %s", run_id, error)  # its keys expire by themselves

    async def floor(self, run_id: str, slowest_here: int | None) -> int:
        """The oldest seq a reader still needs: the slowest attached reader (`slowest_here` is this
        worker's, the others register in Redis), else where the last one left."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(keys.readers(run_id), 0, 0, withscores=True)
        pipe.hget(keys.meta(run_id), "floor")
        slowest, left_at = await pipe.execute()
        attached = [int(slowest[0][1])] if slowest else []
        if slowest_here is not None:
            attached.append(slowest_here)
        return min(attached) if attached else int(left_at or 1)

    async def left(self, run_id: str, next_seq: int) -> None:
        """This worker's last reader of a run it owns left at `next_seq`."""
        if run_id not in self._owned:
            return  # forgotten meanwhile: its keys are gone, and must not come back without an expiry
        _, elsewhere = await self.pipeline(
            lambda pipe: (
                pipe.eval(keys.SET_FLOOR, 1, keys.meta(run_id), next_seq),  # with no reader left, the last one's place
                pipe.zcard(keys.readers(run_id)),
            )
        )
        self._keep_or_expire(run_id, elsewhere)

    async def notify(self, worker_id: str, verb: str, run_id: str) -> None:
        if worker_id == self.worker_id:
            self._handle(verb, run_id)
        else:
            await self.redis.publish(keys.worker_channel(worker_id), f"{verb} {run_id}")

    async def _listen(self) -> None:
        """Cancel and reader messages for this worker's runs; resubscribes after a Redis restart.
        Delivery takes milliseconds: the owner learns of a cancel from any worker at once."""
        subscribed_before = False
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(keys.worker_channel(self.worker_id))
                    if subscribed_before:
                        await self._cancel_forgotten()
                    subscribed_before = True
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            verb, _, run_id = message["data"].decode().partition(" ")
                            self._handle(verb, run_id)
            except (RedisError, OSError) as error:
                logger.warning("run store messages interrupted: %s; reconnecting", error)
                await asyncio.sleep(0.5)

    async def _cancel_forgotten(self) -> None:
        """Pub/sub keeps no message for a subscriber that is away: a run cancelled by another worker
        meanwhile is known by its key, which the cancel deleted."""
        run_ids = list(self._owned)
        pipe = self.redis.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.exists(keys.meta(run_id))
        for run_id, exists in zip(run_ids, await pipe.execute(), strict=True):
            if not exists:
                logger.info("run %s was cancelled or lost while this worker was not listening", run_id)
                self._cancel_owned(run_id)

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
        self._keep_or_expire(run_id, await self.redis.zcard(keys.readers(run_id)))

    def _keep_or_expire(self, run_id: str, readers_elsewhere: int) -> None:
        run = self._owned.get(run_id)
        if run is None:
            return
        if readers_elsewhere or run.readers:
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
