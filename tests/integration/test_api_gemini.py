"""The SSE API on the Gemini backend: google-genai over HTTP against the local fake Gemini server.
Faults become `event: error` with a human message; the API key never reaches a client."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from streaming_core.api.limits import ApiLimits
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import load_settings
from streaming_core.testing.fake_gemini import SENTINEL_KEY, FakeGeminiServer, Scenario
from streaming_core.testing.servers import ApiServer
from streaming_core.testing.sse import read_sse

ANSWER = "Gemini streams this answer in several pieces over server-sent events."
LIMITS = ApiLimits(ping_s=0, grace_s=0.3)


def gemini_api(*, persistent: bool = False, coalesce: bool = True) -> ApiServer:
    # load_settings() after the fake_gemini fixture set GOOGLE_API_KEY and GOOGLE_GEMINI_BASE_URL.
    config = AssistantConfig(backend="gemini", persistent=persistent, coalesce=coalesce)
    return ApiServer(config, load_settings(), LIMITS)


async def test_gemini_answer_streams_through_the_api_exactly_once(fake_gemini: FakeGeminiServer) -> None:
    fake_gemini.enqueue(Scenario.reply(ANSWER, chunks=5))
    with gemini_api(coalesce=False) as server:  # each piece Gemini sent is one event
        async with httpx.AsyncClient() as client:
            reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "Explain SSE"})

    assert reply.text == ANSWER
    assert len([e for e in reply.events if e.event == "message"]) == 5 + 1  # five chunks, then [DONE]
    assert reply.named("done")[0]["status"] == "completed"
    assert fake_gemini.requests[0].api_key == SENTINEL_KEY


@pytest.mark.parametrize(
    ("scenario", "code", "words"),
    [
        (Scenario.quota_exhausted(retry_delay="17s"), "quota", "quota"),
        (Scenario.invalid_api_key(), None, "key"),
        (Scenario.internal_error(), None, ""),
        (Scenario.cut("one two three four", after_chunks=2, chunks=4), "network", ""),
    ],
    ids=["quota", "bad-key", "server-error", "connection-cut"],
)
async def test_gemini_faults_become_error_events_without_traceback_or_key(
    fake_gemini: FakeGeminiServer, scenario: Scenario, code: str | None, words: str
) -> None:
    fake_gemini.default = scenario  # also answers any retry the backend makes
    with gemini_api() as server:
        async with httpx.AsyncClient() as client:
            reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "hi"})

    [error] = reply.named("error")
    wire = "\n".join(f"{e.id} {e.event} {e.data}" for e in reply.events) + str(reply.headers)
    assert reply.status_code == 200 and reply.events[-1].data == "[DONE]"
    assert code is None or error["code"] == code
    assert words.lower() in error["message"].lower() and error["message"].strip()
    assert "Traceback" not in wire and SENTINEL_KEY not in wire
    assert reply.named("done")[0]["status"] == "error"


async def test_client_gone_past_the_grace_period_closes_the_gemini_request(fake_gemini: FakeGeminiServer) -> None:
    fake_gemini.enqueue(Scenario(kind="hang"))
    with gemini_api() as server:
        async with (
            httpx.AsyncClient() as client,
            client.stream("GET", f"{server.url}/chat/stream", params={"query": "hi"}) as response,
        ):
            assert response.status_code == 200
            await asyncio.to_thread(fake_gemini.wait_for_requests, 1)
        # We hung up; after the 0.3 s grace period the run is cancelled, and with it the HTTP call.
        assert await asyncio.to_thread(fake_gemini.disconnected.wait, 10)
