"""One turn at a time per conversation: ADK appends to a session it read at the start of a run, so
two overlapping turns would make one fail as stale. In one process an asyncio lock per loop does
(`memory://`); with RUN_STORE_URL=redis:// the lock is a Redis key with an owner token and an
expiry that the holder keeps renewing, so pages and API workers in any process take turns, and a
holder that died frees the conversation within LOCK_TTL_S.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio.lock import Lock as RedisLock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from streaming_core.errors import StreamingCoreError
from streaming_core.stores.redis_client import redis_client
from streaming_core.stores.urls import scheme_of

logger = logging.getLogger(__name__)

# The holder renews on its event loop, which a worker busy with hundreds of turns can starve for
# seconds (issue 11: 500 turns on one worker). 30 s leaves 20 s of lateness before a live holder's
# lock lapses, and still frees a dead holder's conversation within half a minute.
LOCK_TTL_S = 30.0
RENEW_EVERY_S = LOCK_TTL_S / 3


class LockUnavailable(StreamingCoreError):
    """The conversation lock could not be taken because its store (Redis) failed."""


class ConversationLock(Protocol):
    async def busy(self) -> bool:
        """Whether a turn holds the conversation now (in any process)."""
        ...

    async def acquire(self) -> None: ...

    def release(self) -> None:
        """Synchronous: it runs in `finally` blocks that may already be cancelled."""
        ...


Key = tuple[str, str, str]  # app name, user id, session id

_local: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakValueDictionary[Key, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


class LocalLock:
    """The running loop's lock for one conversation, shared by every Assistant on that loop (pages with
    different settings use different Assistants over one store). The weak values let idle locks go."""

    def __init__(self, key: Key) -> None:
        locks = _local.setdefault(asyncio.get_running_loop(), weakref.WeakValueDictionary())
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        self._lock = lock

    async def busy(self) -> bool:
        return self._lock.locked()

    async def acquire(self) -> None:
        await self._lock.acquire()

    def release(self) -> None:
        self._lock.release()


_renewals: set[asyncio.Task[Any]] = set()


class RedisConversationLock:
    def __init__(self, url: str, key: Key) -> None:
        self._redis = redis_client(url)
        self._name = "lab:lock:" + ":".join(key)
        self._lock = RedisLock(self._redis, self._name, timeout=LOCK_TTL_S, sleep=0.05, thread_local=False)
        self._renewal: asyncio.Task[None] | None = None

    async def busy(self) -> bool:
        try:
            return bool(await self._redis.exists(self._name))
        except RedisError as error:
            raise LockUnavailable(f"The conversation lock store (Redis) failed: {error}") from None

    async def acquire(self) -> None:
        try:
            await self._lock.acquire()
        except RedisError as error:
            raise LockUnavailable(
                "The run store (Redis) that keeps turns in order is unreachable; try again in a moment."
            ) from error
        self._renewal = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        # reacquire resets the TTL if the key still holds our token, however late it comes; it
        # fails only when the lock is gone: expired and maybe taken (LockNotOwnedError), or already
        # released here (LockError). Either way renewing again cannot help, so the loop ends.
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            try:
                await self._lock.reacquire()
            except LockNotOwnedError:  # expired (Redis restarted, or renewed too late): the turn goes on
                logger.warning("the lock of %s lapsed before it was renewed", self._name)
                return
            except LockError:  # released meanwhile
                return
            except RedisError as error:  # unreachable for now: try again next period
                logger.warning("could not renew the lock of %s: %s", self._name, error)

    def release(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
        # In a task of its own: this runs in `finally` blocks that may already be cancelled.
        task = asyncio.get_running_loop().create_task(self._release())
        _renewals.add(task)
        task.add_done_callback(_renewals.discard)

    async def _release(self) -> None:
        try:
            await self._lock.release()
        except (LockError, RedisError) as error:  # expired meanwhile, or Redis is gone: it expires by itself
            logger.info("lock %s was not released: %s", self._name, error)


LockFactory = Callable[[Key], ConversationLock]


def lock_factory(run_store_url: str) -> LockFactory:
    """The conversation locks for RUN_STORE_URL: in this process, or in Redis for every process."""
    if scheme_of(run_store_url, "RUN_STORE_URL", ("memory", "redis")) == "memory":
        return LocalLock
    return lambda key: RedisConversationLock(run_store_url, key)
