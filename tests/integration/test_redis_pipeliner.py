"""The Redis pipeliner: what tasks queue in one loop iteration goes to Redis together, each task
getting its own replies, its own errors, and its commands run in the order it queued them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from redis.exceptions import ResponseError

from streaming_core.stores.redis_client import close_redis_client, redis_client, redis_pipeliner
from streaming_core.testing.datastores import RedisServer


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def test_commands_of_many_tasks_in_one_iteration_share_one_connection(redis_server: RedisServer) -> None:
    """Issue 11: each run's XADD took a round trip (and, at once, a pooled connection) of its own."""
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    clients_before = (await redis_client(redis_server.url).info("clients"))["connected_clients"]

    replies = await asyncio.gather(
        *(redis_pipeliner(url)(lambda pipe, n=n: pipe.incrby("count", n)) for n in range(100))
    )
    clients_after = (await redis_client(redis_server.url).info("clients"))["connected_clients"]
    await close_redis_client(url)

    assert sorted(reply[0] for reply in replies)[-1] == sum(range(100))
    assert clients_after - clients_before == 1


async def test_a_failed_command_fails_its_own_group_only(redis_server: RedisServer) -> None:
    send = redis_pipeliner(redis_server.url)
    await send(lambda pipe: pipe.xadd("log", {"d": "1"}, id="1-0"))

    taken, fresh = await asyncio.gather(
        send(lambda pipe: pipe.xadd("log", {"d": "again"}, id="1-0")),
        send(lambda pipe: (pipe.xadd("log", {"d": "2"}, id="2-0"), pipe.xlen("log"))),
        return_exceptions=True,
    )

    assert isinstance(taken, ResponseError)
    assert fresh == [b"2-0", 2]
