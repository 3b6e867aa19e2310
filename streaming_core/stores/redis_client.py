"""One Redis client per URL and event loop (redis.asyncio connections belong to the loop that made them)."""

from __future__ import annotations

import asyncio
import weakref
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


async def close_redis_client(url: str, *, decode_responses: bool = False) -> None:
    """Closes the running loop's client for `url`, if it has one (a store shutting down)."""
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
