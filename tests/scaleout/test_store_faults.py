"""Redis or PostgreSQL restarted mid-answer: the stream ends with a clear `error` event after the
partial text (no traceback, no hang), and the next turn works once the server is back. Each test
has servers of its own, as it stops them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from httpx_sse import aconnect_sse

from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.stores.sessions import check_session_store, create_session_store
from streaming_core.testing.cluster import Cluster, Stores
from streaming_core.testing.datastores import PostgresServer, RedisServer
from streaming_core.testing.sse import SseReply, read_sse

ANSWER = "".join(f"{n:02d} " for n in range(40))  # 40 chunks of 3 characters
REPLY = ScriptedReply(text=ANSWER, chunk_size=3, chunk_delay=0.1)
LIMITS = ApiLimits(max_streams_per_client=50, rate_per_minute=1000, ping_s=0)


@pytest.fixture
def own_stores() -> Iterator[tuple[RedisServer, PostgresServer]]:
    with RedisServer() as redis, PostgresServer() as postgres:
        yield redis, postgres


def assert_ended_clearly(reply: SseReply) -> None:
    """[DONE] last, an `error` event naming the store before it, the text a prefix of the answer."""
    assert reply.events[-1].data == "[DONE]"
    errors = reply.named("error")
    assert [error["code"] for error in errors] == ["store"], errors
    assert "Traceback" not in json.dumps(errors)
    assert ANSWER.startswith(reply.text) and 0 < len(reply.text) < len(ANSWER)


async def read_with_fault(cluster: Cluster, fault: Callable[[], None], timeout: float = 60) -> SseReply:
    """Asks for ANSWER, runs `fault` (in a thread) once three chunks have arrived, reads to the end."""
    async with (
        httpx.AsyncClient() as client,
        aconnect_sse(client, "GET", f"{cluster.url}/chat/stream", params={"query": "count"}, timeout=timeout) as source,
    ):
        reply = SseReply(source.response.status_code, source.response.headers)
        async for event in source.aiter_sse():
            reply.events.append(event)
            if len(reply.events) == 3:
                await asyncio.to_thread(fault)
    return reply


async def next_turn_works(cluster: Cluster, session_id: str) -> None:
    async with httpx.AsyncClient() as client:
        try:
            reply = await read_sse(
                client,
                "POST",
                f"{cluster.url}/chat/stream",
                json={"query": "again", "session_id": session_id},
                timeout=30,
            )
        except httpx.ReadTimeout:
            raise AssertionError(f"the next turn hung:\n{cluster.workers[0].output()}") from None
    assert reply.status_code == 200 and reply.text == ANSWER, reply.named("error")


async def test_redis_restarted_mid_answer(own_stores: tuple[RedisServer, PostgresServer]) -> None:
    redis, postgres = own_stores
    with Cluster((REPLY,), Stores(redis.url, postgres.url), limits=LIMITS, workers=1) as cluster:
        reply = await read_with_fault(cluster, redis.restart)

        assert_ended_clearly(reply)
        await next_turn_works(cluster, reply.headers["x-session-id"])
        output = cluster.workers[0].output()
        assert "Traceback" not in output, output


async def test_postgresql_down_when_the_answer_ends(own_stores: tuple[RedisServer, PostgresServer]) -> None:
    redis, postgres = own_stores
    with Cluster((REPLY,), Stores(redis.url, postgres.url), limits=LIMITS, workers=1) as cluster:
        # Down while the answer finishes (ADK saves it then), back for the next turn.
        reply = await read_with_fault(cluster, lambda: postgres.stop(keep_data=True))
        await asyncio.to_thread(postgres.start)

        assert reply.events[-1].data == "[DONE]"
        [error] = reply.named("error")
        assert error["code"] == "store" and "Traceback" not in error["message"]
        assert reply.text == ANSWER  # streamed in full; only saving it failed, and the client was told
        await next_turn_works(cluster, reply.headers["x-session-id"])
        output = cluster.workers[0].output()
        assert "Traceback" not in output, output


async def test_the_first_trip_after_a_postgresql_restart_reconnects(
    own_stores: tuple[RedisServer, PostgresServer],
) -> None:
    """Without pool_pre_ping's SELECT 1 per trip, a pooled connection the restart killed fails its
    first statement; the trip is tried once more on a new connection instead of failing."""
    _, postgres = own_stores
    service = create_session_store(postgres.url)
    await check_session_store(service, postgres.url)
    try:
        await service.create_session(app_name="lab", user_id="u")  # leaves a connection in the pool
        await asyncio.to_thread(postgres.stop, keep_data=True)
        await asyncio.to_thread(postgres.start)

        session = await service.create_session(app_name="lab", user_id="u")
        found = await service.get_session(app_name="lab", user_id="u", session_id=session.id)
    finally:
        await service.close()

    assert found is not None and found.id == session.id
