"""Consumers going away: 500 Stop/rerun/page-close cancellations on the core path and 500 SSE client
disconnects each cancel the Gemini call, and leave no tasks, threads, sockets, files or memory behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from streaming_core.bridge import get_background_loop
from streaming_core.events import TextDelta
from streaming_core.sync_api import stream_turn_sync
from streaming_core.testing.fake_gemini import FakeGeminiServer, Scenario
from streaming_core.testing.faults import ANSWER, PROMPT
from streaming_core.testing.paths import CORE_CONFIG, gemini_api
from streaming_core.testing.resources import growth_after_settling, measure
from streaming_core.testing.servers import ApiServer, eventually, wait_until

CANCELLATIONS = 500
WARM_UP = 20  # connection pools, caches and lazy imports fill up before the baseline
MID_STREAM = Scenario.reply(ANSWER, chunks=8, delay=0.5)
SLOW_FIRST_CHUNK = Scenario.reply(ANSWER, chunks=8, first_delay=60)
RSS_ALLOWANCE_MB = 40  # generous: a leak of one answer's objects per turn would be far larger
HANDLE_ALLOWANCE = 4  # a leak of one per cancellation would be 500


def cancel_core_turn(fake: FakeGeminiServer, n: int) -> None:
    """What Stop, a rerun or closing the page does: the page's generator is closed mid-answer
    (even n) or while the model is still silent (odd n), once Gemini has the request."""
    mid_stream = n % 2 == 0
    fake.enqueue(MID_STREAM if mid_stream else SLOW_FIRST_CHUNK)
    asked = fake.request_count + 1
    stream = stream_turn_sync(PROMPT, CORE_CONFIG, heartbeat=0.01)
    for event in stream:
        if isinstance(event, TextDelta) if mid_stream else fake.request_count >= asked:
            break
    stream.close()


async def hang_up(client: httpx.AsyncClient, server: ApiServer, fake: FakeGeminiServer, n: int) -> None:
    """An SSE client that goes away after the first chunk (even n) or while the model is silent (odd n)."""
    mid_stream = n % 2 == 0
    fake.enqueue(MID_STREAM if mid_stream else SLOW_FIRST_CHUNK)
    asked = fake.request_count + 1
    async with client.stream("POST", f"{server.url}/chat/stream", json={"query": PROMPT}) as response:
        assert response.status_code == 200
        if mid_stream:
            lines = response.aiter_lines()
            while not (await anext(lines)).startswith("data:"):
                pass
        else:
            await eventually(lambda: fake.request_count >= asked)


def background_tasks() -> int:
    async def count() -> int:
        return len(asyncio.all_tasks() - {asyncio.current_task()})

    return get_background_loop().run(count)


def test_500_cancelled_core_turns_close_every_model_call_and_leak_nothing(gemini: FakeGeminiServer) -> None:
    for n in range(WARM_UP):
        cancel_core_turn(gemini, n)
    wait_until(lambda: background_tasks() == 0, message="warm-up tasks to end")
    base, closed_before = measure(), gemini.disconnects

    for n in range(CANCELLATIONS):
        cancel_core_turn(gemini, n)

    wait_until(lambda: gemini.disconnects - closed_before == CANCELLATIONS, message="every Gemini request closed")
    assert background_tasks() == 0
    assert growth_after_settling(base, rss_mb=RSS_ALLOWANCE_MB, handles=HANDLE_ALLOWANCE) == []


async def test_500_sse_client_disconnects_cancel_every_model_call_and_leak_nothing(
    gemini: FakeGeminiServer, sessions: Path
) -> None:
    with gemini_api(sessions / "disconnects.db") as server:
        api = server.app.state.api

        def idle() -> bool:
            return server.call(lambda: len(api.registry) == 0 and api.limiter.open_streams("127.0.0.1") == 0)

        def tasks() -> int:
            return server.call(lambda: len(asyncio.all_tasks(server.server.loop)))

        async with httpx.AsyncClient(timeout=30) as client:
            for n in range(WARM_UP):
                await hang_up(client, server, gemini, n)
            await eventually(idle, message="warm-up runs to end")
            base, base_tasks, closed_before = measure(), tasks(), gemini.disconnects

            for n in range(CANCELLATIONS):
                await hang_up(client, server, gemini, n)

            await eventually(lambda: gemini.disconnects - closed_before == CANCELLATIONS, message="requests closed")
            await eventually(idle, message="every run and stream slot released")
            await eventually(lambda: tasks() <= base_tasks, message=f"server tasks back to {base_tasks}")
            grown = await asyncio.to_thread(
                growth_after_settling, base, rss_mb=RSS_ALLOWANCE_MB, handles=HANDLE_ALLOWANCE
            )

    assert grown == []
