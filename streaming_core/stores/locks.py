"""One turn at a time per conversation: ADK appends to a session it read at the start of a run, so
two overlapping turns would make one fail as stale. In one process an asyncio lock per loop does
(`memory://`); with RUN_STORE_URL=redis:// the lock is a Redis key with an owner token and an
expiry that the holder keeps renewing, so pages and API workers in any process take turns, and a
holder that died frees the conversation within LOCK_TTL_S.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from redis.exceptions import RedisError

from streaming_core.errors import StreamingCoreError
from streaming_core.stores.redis_client import redis_pipeliner
from streaming_core.stores.urls import scheme_of

logger = logging.getLogger(__name__)

# The holder renews on its event loop, which a worker busy with hundreds of turns can starve for
# seconds (issue 11: 500 turns on one worker). 30 s leaves 20 s of lateness before a live holder's
# lock lapses, and still frees a dead holder's conversation within half a minute.
LOCK_TTL_S = 30.0
RENEW_EVERY_S = LOCK_TTL_S / 3
LOCK_TTL_MS = int(LOCK_TTL_S * 1000)


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


_background: set[asyncio.Task[Any]] = set()
# Compare-and-act on the holder's token, atomically (scripts; sent with other commands, see Pipeliner).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
RETRY_S = 0.05  # a queued turn asks again this often


class RedisConversationLock:
    """A key holding the holder's token, with an expiry the holder renews (SET NX PX, then scripts
    that act only while the key holds that token). Its commands go out with the other commands of
    the loop iteration: taking, renewing and freeing cost no round trip of their own."""

    def __init__(self, url: str, key: Key) -> None:
        self._send = redis_pipeliner(url)
        self.name = "lab:lock:" + ":".join(key)
        self._token = secrets.token_hex(16)

    async def busy(self) -> bool:
        try:
            [exists] = await self._send(lambda pipe: pipe.exists(self.name))
        except RedisError as error:
            raise LockUnavailable(f"The conversation lock store (Redis) failed: {error}") from None
        return bool(exists)

    async def acquire(self) -> None:
        while True:
            taking = self._send(lambda pipe: pipe.set(self.name, self._token, nx=True, px=LOCK_TTL_MS))
            try:
                [taken] = await asyncio.shield(taking)
            except asyncio.CancelledError:
                # The SET goes out anyway (the turn's time limit, or Stop, while it was on its way):
                # a lock taken for nobody would hold the conversation for LOCK_TTL_S.
                taking.add_done_callback(self._free_if_taken)
                raise
            except RedisError as error:
                raise LockUnavailable(
                    "The run store (Redis) that keeps turns in order is unreachable; try again in a moment."
                ) from error
            if taken:
                break
            await asyncio.sleep(RETRY_S)
        renewer().add(self)

    def _free_if_taken(self, taking: asyncio.Future[list[Any]]) -> None:
        if not taking.cancelled() and taking.exception() is None and taking.result()[0]:
            self._spawn(self._release())

    async def renew(self) -> bool:
        """Resets the expiry if the key still holds our token, however late this comes; False once
        it does not (expired, and maybe taken by another turn): renewing again cannot help."""
        try:
            [renewed] = await self._send(lambda pipe: pipe.eval(_RENEW, 1, self.name, self._token, LOCK_TTL_MS))
        except (RedisError, OSError) as error:  # unreachable for now: try again next period
            logger.warning("could not renew the lock of %s: %s", self.name, error)
            return True
        return bool(renewed)

    def release(self) -> None:
        renewer().held.discard(self)
        # In a task of its own: this runs in `finally` blocks that may already be cancelled.
        self._spawn(self._release())

    @staticmethod
    def _spawn(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _release(self) -> None:
        try:
            [released] = await self._send(lambda pipe: pipe.eval(_RELEASE, 1, self.name, self._token))
        except RedisError as error:  # Redis is gone: the lock expires by itself
            logger.info("lock %s was not released: %s", self.name, error)
            return
        if not released:
            logger.info("lock %s was not released: it had expired", self.name)


class Renewer:
    """Renews every Redis lock held on one event loop, together, every RENEW_EVERY_S (one round trip
    for all: a task per lock cost a task start and a cancellation per turn, issue 11). Its task
    ends when no lock is held and starts again with the next one."""

    def __init__(self) -> None:
        self.held: set[RedisConversationLock] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, lock: RedisConversationLock) -> None:
        self.held.add(lock)
        if self.task is None or self.task.done():
            # A context of its own: the first holder's (its turn's outlet and pacer) must not live on in it.
            self.task = asyncio.get_running_loop().create_task(self._renew(), context=contextvars.Context())

    async def _renew(self) -> None:
        while self.held:
            await asyncio.sleep(RENEW_EVERY_S)
            held = list(self.held)
            renewed = await asyncio.gather(*(lock.renew() for lock in held))
            for lock, still_ours in zip(held, renewed, strict=True):
                if not still_ours and lock in self.held:  # not released meanwhile: expired (Redis
                    # restarted, or renewed too late); the turn goes on
                    logger.warning("the lock of %s lapsed before it was renewed", lock.name)
                    self.held.discard(lock)


_renewers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Renewer] = weakref.WeakKeyDictionary()


def renewer() -> Renewer:
    """The running loop's renewer."""
    loop = asyncio.get_running_loop()
    found = _renewers.get(loop)
    if found is None:
        found = _renewers[loop] = Renewer()
    return found


LockFactory = Callable[[Key], ConversationLock]


def lock_factory(run_store_url: str) -> LockFactory:
    """The conversation locks for RUN_STORE_URL: in this process, or in Redis for every process."""
    if scheme_of(run_store_url, "RUN_STORE_URL", ("memory", "redis")) == "memory":
        return LocalLock
    return lambda key: RedisConversationLock(run_store_url, key)
