"""The API's limits under concurrent bursts from one client: open streams and request size hold,
changing the user id does not get around them, and the server serves normally afterwards."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx

from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings
from streaming_core.testing.servers import ApiServer, eventually
from streaming_core.testing.sse import read_sse

SETTINGS = Settings(backend="scripted")
SILENT_AFTER_ONE_CHUNK = AssistantConfig(
    backend="scripted", persistent=False, script=(ScriptedReply(text="abcdef", chunk_size=2, hang_after=1),)
)
LIMITS = ApiLimits(max_streams_per_client=4, rate_per_minute=10_000, grace_s=0, ping_s=0)
BURST = 30


async def test_a_burst_of_streams_gets_only_the_per_client_limit_whatever_the_user_id() -> None:
    with ApiServer(SILENT_AFTER_ONE_CHUNK, SETTINGS, LIMITS) as server:
        url = f"{server.url}/chat/stream"
        limiter = server.app.state.api.limiter
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=BURST + 5), timeout=30) as client:
            async with AsyncExitStack() as held:
                burst = await asyncio.gather(
                    *(
                        held.enter_async_context(
                            client.stream("GET", url, params={"query": "hi"}, headers={"X-User-Id": f"user{n}"})
                        )
                        for n in range(BURST)
                    )
                )
                open_during = server.call(lambda: limiter.open_streams("127.0.0.1"))
                refused = [r for r in burst if r.status_code == 429]
            await eventually(lambda: server.call(lambda: limiter.open_streams("127.0.0.1")) == 0)
            after = await read_sse(client, "GET", url, params={"query": "hi"}, limit=1)
        started = server.model().log.started

    assert sorted(r.status_code for r in burst) == [200] * 4 + [429] * (BURST - 4)
    assert open_during == 4 and started == 4 + 1
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert after.status_code == 200 and after.text == "ab"


async def test_a_burst_of_oversized_bodies_is_refused_without_reaching_the_model() -> None:
    with ApiServer(SILENT_AFTER_ONE_CHUNK, SETTINGS, LIMITS) as server:
        url = f"{server.url}/chat/stream"
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=BURST + 5), timeout=30) as client:
            burst = await asyncio.gather(*(client.post(url, json={"query": "x" * 1_000_000}) for _ in range(BURST)))
            after = await read_sse(client, "GET", url, params={"query": "hi"}, limit=1)
        started = server.model().log.started

    assert [r.status_code for r in burst] == [413] * BURST
    assert {r.json()["error"] for r in burst} == {"too_large"}
    assert after.text == "ab" and started == 1  # only the request after the burst reached the model
