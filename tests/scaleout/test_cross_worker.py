"""What only many workers can show: resume and cancel on another worker than the one answering, and
a worker killed mid-answer losing nothing that was sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import replace

import httpx
import pytest

from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.settings import Settings
from streaming_core.testing.cluster import Cluster, Stores
from streaming_core.testing.sse import read_sse
from streaming_core.visitors import DEFAULT_USER

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
LIMITS = ApiLimits(max_streams_per_client=50, rate_per_minute=1000, ping_s=0, grace_s=60)


@pytest.fixture
def paced(stores: Stores) -> Iterator[Cluster]:
    """Two workers answering ALPHABET two characters every 50 ms."""
    reply = ScriptedReply(text=ALPHABET, chunk_size=2, chunk_delay=0.05)
    with Cluster((reply,), stores, limits=LIMITS) as cluster:
        yield cluster


async def test_resume_on_another_worker_gets_the_rest_exactly_once(paced: Cluster) -> None:
    a, b = paced.workers
    async with httpx.AsyncClient() as client:
        before = await read_sse(client, "GET", f"{a.url}/chat/stream", params={"query": "go"}, limit=5)
        after = await read_sse(client, "GET", f"{b.url}/chat/stream", headers={"Last-Event-ID": before.events[-1].id})

    run_id = before.headers["x-run-id"]
    events = before.events + after.events
    assert [e.id for e in events] == [f"{run_id}:{n}" for n in range(1, len(events) + 1)]
    assert before.text + after.text == ALPHABET
    assert after.named("done")[0]["status"] == "completed" and after.events[-1].data == "[DONE]"
    assert paced.model().log.started == 1  # resumed, not asked again


async def test_delete_on_one_worker_cancels_the_model_call_on_the_other(
    stores: Stores, record_property: Callable[[str, object], None]
) -> None:
    reply = ScriptedReply(text="abcdef", chunk_size=2, hang_after=2)
    with Cluster((reply,), stores, limits=LIMITS) as cluster:
        a, b = cluster.workers
        async with (
            httpx.AsyncClient() as client,
            client.stream("GET", f"{a.url}/chat/stream", params={"query": "go"}) as response,
        ):
            lines = response.aiter_lines()
            while await anext(lines) != 'data: {"text":"cd"}':
                pass
            asked = time.monotonic()
            deleted = await client.delete(f"{b.url}/chat/runs/{response.headers['x-run-id']}")
            rest = [await anext(lines)]
            while not rest[-1].startswith("event:"):  # the blank line ending the last chunk, the id
                rest.append(await anext(lines))
            latency = time.monotonic() - asked  # DELETE sent on B -> A's client reads the cancel
            rest += [line async for line in lines]
        rest = [line for line in rest if line.startswith(("event:", "data:"))]

        record_property("cancel_latency_s", round(latency, 4))
        assert deleted.status_code == 204
        assert rest[0] == "event: error" and '"code":"cancelled"' in rest[1] and rest[-1] == "data: [DONE]"
        # By design the owner hears the cancel over pub/sub at once (a few ms); this bound only tells
        # it from the 60 s grace period, and holds on a loaded machine.
        assert latency < 5
        assert (a.model_log()["cancelled"], b.model_log()["started"]) == (1, 0)


async def test_a_killed_worker_loses_nothing_that_was_sent(paced: Cluster, stores: Stores) -> None:
    a, b = paced.workers
    async with httpx.AsyncClient() as client:
        before = await read_sse(client, "GET", f"{a.url}/chat/stream", params={"query": "go"}, limit=4)
        a.kill()
        killed = time.monotonic()
        after = await read_sse(
            client, "GET", f"{b.url}/chat/stream", headers={"Last-Event-ID": before.events[-1].id}, timeout=30
        )
        noticed = time.monotonic() - killed

    run_id, session_id = before.headers["x-run-id"], before.headers["x-session-id"]
    events = before.events + after.events
    assert [e.id for e in events] == [f"{run_id}:{n}" for n in range(1, len(events) + 1)]  # each once, in order
    [error] = after.named("error")
    assert error["code"] == "worker_lost" and "partial answer is kept" in error["message"]
    assert after.events[-1].data == "[DONE]"
    streamed = before.text + after.text
    assert len(streamed) >= 6 and ALPHABET.startswith(streamed) and streamed != ALPHABET
    assert noticed < 30  # the lease lapses after 5 s; this bound only says it never hangs
    # The conversation keeps what was streamed, marked as cut off, as Stop would.
    settings = replace(Settings(backend="scripted"), session_service_uri=stores.session_service_uri)
    assistant = build_assistant(AssistantConfig(backend="scripted"), settings)
    history = await assistant.history(session_id, DEFAULT_USER)
    assert [(m.role, m.text, m.interrupted) for m in history] == [
        ("user", "go", None),
        ("assistant", streamed, "stopped"),
    ]
    # The dead worker's conversation lock expires (10 s), so the conversation goes on elsewhere.
    async with httpx.AsyncClient() as client:
        body = {"query": "again", "session_id": session_id}
        again = await read_sse(client, "POST", f"{b.url}/chat/stream", json=body, timeout=60)
    assert again.text == ALPHABET and again.named("done")[0]["status"] == "completed"


async def test_the_per_client_stream_limit_holds_across_workers(stores: Stores) -> None:
    reply = ScriptedReply(text="abcdef", chunk_size=2, hang_after=1)  # each stream stays open
    limits = replace(LIMITS, max_streams_per_client=2)
    # A client address of its own: the slots of the worker killed in another test count for 30 s more.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.7")
    with Cluster((reply,), stores, limits=limits) as cluster:
        a, b = cluster.workers
        async with httpx.AsyncClient(transport=transport) as client:

            async def new_stream(url: str) -> int:
                async with client.stream("GET", f"{url}/chat/stream", params={"query": "hi"}) as response:
                    return response.status_code

            async with AsyncExitStack() as streams:
                opened = [
                    await streams.enter_async_context(
                        client.stream("GET", f"{w.url}/chat/stream", params={"query": "hi"})
                    )
                    for w in (a, b)
                ]
                refused = [await client.get(f"{w.url}/chat/stream", params={"query": "hi"}) for w in (a, b)]
            # Both hung up: each worker frees its slot, and either worker lets the client in again.
            deadline = time.monotonic() + 10
            while (again := await new_stream(b.url)) != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)

    assert [response.status_code for response in opened] == [200, 200]
    assert [response.status_code for response in refused] == [429, 429]
    assert "2 at once" in refused[0].json()["detail"]
    assert again == 200
