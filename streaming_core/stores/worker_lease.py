"""Worker leases: each worker renews a lease in Redis every second; when one lapses (the worker was
killed), another worker finishes that worker's runs: it keeps the partial answer in the
conversation, marked as cut off, and appends an `error` event and `[DONE]` to each run's stream,
so a client resuming on any worker gets every logged chunk once, then the error, and never hangs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from redis import Redis as SyncRedis
from redis.exceptions import RedisError

from streaming_core.api.encoding import END
from streaming_core.errors import SessionStoreUnavailable
from streaming_core.events import StreamError
from streaming_core.stores import redis_keys as keys
from streaming_core.stores.redis_events import StoredEvent
from streaming_core.stores.runs import KeepPartial

if TYPE_CHECKING:
    from streaming_core.stores.redis_runs import RedisRunStore

logger = logging.getLogger(__name__)

LEASE_S = 5.0  # a worker silent this long is taken for dead
RENEW_S = 1.0
WORKER_LOST = StreamError("worker_lost", "The server answering was stopped; the partial answer is kept.")


def partial_text(items: list[StoredEvent]) -> str:
    """The text streamed since the last event ADK saved (a tool call ends a model response; a
    `done` means the answer was complete and saved)."""
    parts: list[str] = []
    for item in items:
        if item.event in ("tool_call", "tool_result", "done"):
            parts = []
        elif not item.event and not item.is_end:
            parts.append(item.text)
    return "".join(parts)


class WorkerLease:
    """Renews this worker's lease from a thread of its own (a busy or stalled event loop must not make
    a live worker look dead), and watches, on the loop, for the leases of others to lapse."""

    def __init__(self, store: RedisRunStore, keep_partial: KeepPartial) -> None:
        self._store = store
        self._keep_partial = keep_partial
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_forever, name="worker-lease", daemon=True)

    def start(self) -> None:
        self._renew(SyncRedis.from_url(self._store.url, socket_timeout=2, socket_connect_timeout=2))
        self._thread.start()

    def _renew_forever(self) -> None:
        redis = SyncRedis.from_url(self._store.url, socket_timeout=2, socket_connect_timeout=2)
        while not self._stop.wait(RENEW_S):
            try:
                self._renew(redis)
            except (RedisError, OSError) as error:
                logger.warning("worker lease: could not renew: %s", error)

    def _renew(self, redis: SyncRedis) -> None:
        seconds, micros = redis.time()  # the server's clock, one for every worker
        redis.zadd(keys.WORKERS, {self._store.worker_id: seconds + micros / 1e6 + LEASE_S})

    async def watch(self) -> None:
        while True:
            try:
                await self._take_over()
            except (RedisError, OSError) as error:
                logger.warning("worker lease: the run store failed: %s", error)
            await asyncio.sleep(RENEW_S)

    async def _take_over(self) -> None:
        redis = self._store.redis
        seconds, micros = await redis.time()
        for raw in await redis.zrangebyscore(keys.WORKERS, "-inf", seconds + micros / 1e6):
            dead = raw.decode()
            if dead == self._store.worker_id:
                continue
            if not await redis.set(keys.takeover(dead), self._store.worker_id, nx=True, ex=60):
                continue  # another worker is on it
            runs = [run_id.decode() for run_id in await redis.smembers(keys.worker_runs(dead))]
            logger.warning("worker %s stopped renewing its lease; finishing its %d run(s)", dead, len(runs))
            for run_id in runs:
                await self._finish(run_id)
            pipe = redis.pipeline(transaction=False)
            pipe.delete(keys.worker_runs(dead))
            pipe.zrem(keys.WORKERS, dead)
            await pipe.execute()

    async def _finish(self, run_id: str) -> None:
        redis, grace = self._store.redis, max(5, int(self._store.settings.grace_s))
        entries = await redis.xrange(keys.log(run_id))
        items = [StoredEvent.from_fields(fields) for _, fields in entries]
        if not items or not items[-1].is_end:
            fields = {k.decode(): v.decode() for k, v in (await redis.hgetall(keys.meta(run_id))).items()}
            text = partial_text(items)
            if fields and text:
                try:
                    await self._keep_partial(fields["app"], fields["user"], fields["session"], fields["author"], text)
                except SessionStoreUnavailable:
                    logger.warning("could not keep the partial answer of run %s", run_id)
            last = keys.seq_of(entries[-1][0]) if entries else 0
            pipe = redis.pipeline(transaction=False)
            pipe.xadd(keys.log(run_id), StoredEvent.of(WORKER_LOST).fields(), id=f"{last + 1}-0")
            pipe.xadd(keys.log(run_id), StoredEvent.of(END).fields(), id=f"{last + 2}-0")
            await pipe.execute()
        # Nobody owns it now: it stays resumable for the grace period, then goes.
        pipe = redis.pipeline(transaction=False)
        pipe.expire(keys.meta(run_id), grace)
        pipe.expire(keys.log(run_id), grace)
        pipe.srem(keys.RUNS, run_id)
        await pipe.execute()

    def resign(self) -> None:
        """On shutdown: this worker's runs are finished already; no lease for others to watch."""
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            SyncRedis.from_url(self._store.url, socket_timeout=2).zrem(keys.WORKERS, self._store.worker_id)
        except (RedisError, OSError) as error:
            logger.warning("could not resign the worker lease: %s", error)
