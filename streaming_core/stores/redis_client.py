"""One Redis client per URL and event loop (redis.asyncio connections belong to the loop that made them),
and its pipeliner: the commands every task issues in one loop iteration go to Redis as one pipeline."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

from redis import exceptions
from redis.asyncio import Redis
from redis.exceptions import RedisError

from streaming_core.errors import ConfigurationError
from streaming_core.stores.runs import RunStoreUnavailable, describe

# Every reader blocked in XREAD and every producing run holds a pooled connection, about two per
# concurrent stream; redis-py's default pool (100) refused them past 50 streams ("Too many
# connections"). Redis itself accepts 10,000 clients by default.
MAX_CONNECTIONS = 4096
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, bool], Redis]] = (
    weakref.WeakKeyDictionary()
)
_pipeliners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, bool], Pipeliner]] = (
    weakref.WeakKeyDictionary()
)

# Queues one or more commands on a pipeline: `lambda pipe: pipe.xadd(...)`.
Commands = Callable[[Any], object]


def redis_client(url: str, *, decode_responses: bool = False) -> Any:
    """The loop's client for `url`, typed Any: redis-py 8 types every reply as the union of all RESP
    forms, which would need a cast at each call; the callers read exactly what they wrote."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    key = (url, decode_responses)
    if key not in per_loop:
        try:
            # After a Redis restart every pooled connection is dead; retrying on a connection error
            # (with a new connection) keeps the first command after it from failing.
            per_loop[key] = Redis.from_url(
                url,
                socket_connect_timeout=2,
                health_check_interval=10,
                retry_on_error=[exceptions.ConnectionError, exceptions.TimeoutError],
                decode_responses=decode_responses,
                max_connections=MAX_CONNECTIONS,
            )
        except ValueError as error:
            raise ConfigurationError(f"{describe(url)} is not a Redis URL: {error}") from None
    return per_loop[key]


class Pipeliner:
    """Sends the commands that any task queues in one iteration of the event loop as one pipeline
    (no MULTI): with a hundred answers streaming, their writes cost one round trip, one reply parse
    and one wake-up of the connection's reader per iteration instead of one each (issue 11).

    Redis runs a connection's commands in order, so a task's commands stay in the order it queued
    them. A command's error is its own group's; a connection failure is every group's. Never queue
    a blocking command (XREAD BLOCK): every command queued with it would wait for it.
    """

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._queued: list[tuple[Commands, asyncio.Future[list[Any]]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    def __call__(self, commands: Commands) -> asyncio.Future[list[Any]]:
        """Queues `commands(pipe)`; the future gets their replies in order, or the first error. The
        commands are sent even if the caller stops waiting (see OwnedRun._append)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append((commands, future))
        return future

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Commands, asyncio.Future[list[Any]]]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        sizes = []
        for commands, _ in batch:
            before = len(pipe)
            commands(pipe)
            sizes.append(len(pipe) - before)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except asyncio.CancelledError:  # the loop is shutting down: nobody waits for ever
            for _, future in batch:
                future.cancel()
            raise
        start = 0
        for (_, future), size in zip(batch, sizes, strict=True):
            own = replies[start : start + size]
            start += size
            if future.done():
                continue
            failed = next((reply for reply in own if isinstance(reply, Exception)), None)
            if failed is not None:
                future.set_exception(failed)
            else:
                future.set_result(own)


def redis_pipeliner(url: str, *, decode_responses: bool = False) -> Pipeliner:
    """The loop's pipeliner over `redis_client(url)`."""
    per_loop = _pipeliners.setdefault(asyncio.get_running_loop(), {})
    key = (url, decode_responses)
    if key not in per_loop:
        per_loop[key] = Pipeliner(redis_client(url, decode_responses=decode_responses))
    return per_loop[key]


async def close_redis_client(url: str, *, decode_responses: bool = False) -> None:
    """Closes the running loop's client for `url`, if it has one (a store shutting down)."""
    _pipeliners.get(asyncio.get_running_loop(), {}).pop((url, decode_responses), None)
    client = _clients.get(asyncio.get_running_loop(), {}).pop((url, decode_responses), None)
    if client is not None:
        await client.aclose()


async def check_reachable(url: str) -> None:
    """At start-up: an unreachable Redis fails now, naming the URL (without its password)."""
    try:
        await redis_client(url).ping()
    except (RedisError, OSError) as error:
        raise RunStoreUnavailable(
            f"Cannot reach the run store {describe(url)}: {error}. Start Redis or fix the URL."
        ) from None
