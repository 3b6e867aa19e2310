"""A Redis run as any worker sees it: found by id, replayed from the worker's memory when this
worker is the one answering, else from the run's stream with XREAD (so a resume needs no sticky
sessions). A reader of the stream registers in a sorted set with its position, which the owner
reads for backpressure and for the grace period."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from streaming_core.api.buffer import ResumeGap
from streaming_core.stores import redis_keys as keys
from streaming_core.stores.redis_events import StoredEvent
from streaming_core.stores.redis_owned_run import STORE_FAILED, Batch
from streaming_core.stores.runs import RunStoreUnavailable

if TYPE_CHECKING:
    from streaming_core.stores.redis_runs import RedisRunStore

logger = logging.getLogger(__name__)

LOST_LOG = "The run store (Redis) lost this answer's log, probably in a restart; ask again."
READ_BLOCK_MS = 1000  # a reader wakes at least this often, to stay registered


class RedisRun:
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

    async def replay(self, after: int) -> AsyncGenerator[Batch, None]:
        next_seq = after + 1
        owned = self._store.owned(self.id)
        if owned is not None and owned.log.first_seq <= next_seq:
            async with aclosing(owned.read(after)) as batches:
                async for batch in batches:
                    self._note(batch)
                    yield batch
                    next_seq = batch[-1][0] + 1
                    if batch[-1][1].is_end:
                        return
            # This worker could log no more (Redis failed, or another worker took the run over):
            # whatever follows is in the stream, if anywhere.
        async with aclosing(self._replay_stream(next_seq)) as batches:
            async for batch in batches:
                self._note(batch)
                yield batch

    def _note(self, batch: Batch) -> None:
        self._last_seq = max(self._last_seq, batch[-1][0])
        self._finished = self._finished or batch[-1][1].is_end

    async def _replay_stream(self, next_seq: int) -> AsyncGenerator[Batch, None]:
        redis, reader = self._store.redis, secrets.token_hex(8)
        try:
            await self._move(reader, next_seq)
            oldest = await redis.xrange(keys.log(self.id), "-", "+", count=1)
            if oldest and keys.seq_of(oldest[0][0]) > next_seq:
                raise ResumeGap(f"The events after number {next_seq - 1} are no longer kept.")
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
                yield batch
                next_seq = batch[-1][0] + 1
                if batch[-1][1].is_end:
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
        pipe.eval(keys.SET_FLOOR, 1, keys.meta(self.id), next_seq)  # with no reader left, the last one's place
        await pipe.execute()
        await self._store.notify(self.owner, "readers", self.id)
