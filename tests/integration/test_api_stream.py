"""The SSE API on a real uvicorn, scripted model: framing, progress, memory, tools, concurrency."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from itertools import pairwise
from typing import Any, TypeAlias

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.inputs import clean_message
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings
from streaming_core.testing.servers import ApiServer
from streaming_core.testing.sse import read_sse

ANSWER = "Streaming sends the answer in pieces, so reading starts after the first piece arrives."
SETTINGS = Settings(backend="scripted", max_message_chars=2000)
ROOMY = ApiLimits(max_streams_per_client=100, rate_per_minute=1000, ping_s=0)

Serve: TypeAlias = Callable[..., ApiServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    with ExitStack() as stack:

        def start(
            *replies: ScriptedReply, limits: ApiLimits = ROOMY, tools: tuple[str, ...] = (), coalesce: bool = True
        ) -> ApiServer:
            config = AssistantConfig(
                backend="scripted", persistent=False, script=replies, tools=tools, coalesce=coalesce
            )
            return stack.enter_context(ApiServer(config, SETTINGS, limits))

        yield start


async def test_stream_joined_chunks_equal_the_answer_exactly_once(serve: Serve) -> None:
    server = serve(ScriptedReply(text=ANSWER, chunk_size=7), coalesce=False)
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "Explain streaming"})

    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.text == ANSWER
    assert len([e for e in reply.events if e.event == "message"]) == len(range(0, len(ANSWER), 7)) + 1
    assert reply.events[-1].data == "[DONE]" and reply.events[-1].event == "message"
    [done] = reply.named("done")
    assert done["status"] == "completed"
    assert done["metrics"]["chunk_count"] == len(range(0, len(ANSWER), 7))


async def test_stream_with_coalescing_joins_chunks_a_slow_reader_left_waiting_and_keeps_the_text(
    serve: Serve,
) -> None:
    chunks = 2_000  # from a model that never waits: the run reads them far faster than ADK makes events
    server = serve(ScriptedReply(text="ab" * (chunks // 2), chunk_size=1))
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "go"})

    messages = [e for e in reply.events if e.event == "message"]
    [done] = reply.named("done")
    assert reply.text == "ab" * (chunks // 2) and done["status"] == "completed"
    assert done["metrics"]["chunk_count"] == len(messages) - 1 < chunks


async def test_stream_chunks_arrive_progressively(serve: Serve) -> None:
    # coalescing off: a loaded machine that falls 50 ms behind would rightly join chunks, and this counts them
    server = serve(ScriptedReply(text="abcdefghij" * 3, chunk_size=3, chunk_delay=0.05), coalesce=False)
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "go"})

    chunk_times = [t for t, e in zip(reply.arrivals, reply.events, strict=True) if e.event == "message"][:-1]
    assert len(chunk_times) == 10
    assert chunk_times[-1] - chunk_times[0] >= 0.3  # nine 50 ms gaps, not one burst at the end
    assert sum(b - a >= 0.02 for a, b in pairwise(chunk_times)) >= 7


async def test_stream_every_event_has_a_consecutive_id(serve: Serve) -> None:
    server = serve(ScriptedReply(text=ANSWER, chunk_size=20))
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "hi"})

    run_id = reply.headers["x-run-id"]
    assert [e.id for e in reply.events] == [f"{run_id}:{n}" for n in range(1, len(reply.events) + 1)]
    assert reply.events[0].retry == 1000  # EventSource's reconnection delay, sent once


async def test_stream_session_id_in_header_and_done_event(serve: Serve) -> None:
    server = serve(ScriptedReply(text="ok"))
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "hi"})

    assert reply.headers["x-session-id"]
    assert reply.named("done")[0]["session_id"] == reply.headers["x-session-id"]


async def test_stream_second_turn_with_session_id_remembers_the_first(serve: Serve) -> None:
    server = serve(ScriptedReply(text="Nice to meet you, Ada."))
    async with httpx.AsyncClient() as client:
        first = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "My name is Ada."})
        session_id = first.headers["x-session-id"]
        second = await read_sse(
            client, "POST", f"{server.url}/chat/stream", json={"query": "What is my name?", "session_id": session_id}
        )

    assert second.headers["x-session-id"] == session_id
    seen = [p.text for c in server.model().log.requests[-1].contents for p in c.parts or [] if p.text]
    assert seen == ["My name is Ada.", "Nice to meet you, Ada.", "What is my name?"]


async def test_stream_overlapping_turns_in_one_session_are_queued_and_both_kept(serve: Serve) -> None:
    server = serve(ScriptedReply(text="slow answer", chunk_size=2, chunk_delay=0.2))
    async with httpx.AsyncClient() as client:
        # The first client hangs up after one event; its run goes on (grace period for a resume).
        first = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "one"}, limit=1)
        session_id = first.headers["x-session-id"]
        second = await read_sse(
            client, "POST", f"{server.url}/chat/stream", json={"query": "two", "session_id": session_id}
        )

    [queued] = second.named("queued")
    assert queued["reason"] == "conversation_busy" and second.text == "slow answer"
    seen = [p.text for c in server.model().log.requests[-1].contents for p in c.parts or [] if p.text]
    assert seen == ["one", "slow answer", "two"]


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"method": "POST", "params": {"query": "hi"}},  # the tutorial's form
        {"method": "POST", "json": {"query": "hi"}},
        {"method": "GET", "params": {"query": "hi"}},
    ],
    ids=["post-query-string", "post-json", "get"],
)
async def test_stream_every_request_form_gives_the_same_answer(serve: Serve, request_kwargs: dict[str, Any]) -> None:
    server = serve(ScriptedReply(text=ANSWER, chunk_size=9))
    # Not popped: the parameters are shared with the cluster re-run of this test (tests/scaleout).
    method, options = request_kwargs["method"], {k: v for k, v in request_kwargs.items() if k != "method"}
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, method, f"{server.url}/chat/stream", **options)

    assert reply.text == ANSWER


async def test_stream_tool_call_and_result_are_named_events(serve: Serve) -> None:
    args = {"value": 1, "from_unit": "km", "to_unit": "m"}
    reply_script = ScriptedReply(text="Result: {tool_result}", function_call=("convert_units", args))
    server = serve(reply_script, tools=("convert_units",))
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "1 km in m?"})

    [call] = reply.named("tool_call")
    [result] = reply.named("tool_result")
    assert call["name"] == "convert_units" and call["args"] == {"value": 1, "from_unit": "km", "to_unit": "m"}
    assert result["response"] == {"status": "ok", "value": 1000.0, "unit": "m"}
    assert reply.text == 'Result: {"status": "ok", "value": 1000.0, "unit": "m"}'


async def test_stream_model_failure_is_an_error_event_with_partial_text_kept(serve: Serve) -> None:
    server = serve(ScriptedReply(text="abcdefghij", chunk_size=2, fail_after=3))
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "hi"})

    [error] = reply.named("error")
    assert reply.text == "abcdef"
    assert error["code"] == "upstream" and "after 3 chunks" in error["message"]
    assert "Traceback" not in error["message"]
    assert reply.named("done")[0]["status"] == "error"
    assert reply.events[-1].data == "[DONE]"


async def test_stream_silent_model_times_out_with_an_error_event_and_partial_text(serve: Serve) -> None:
    server = serve(ScriptedReply(text="abcdef", chunk_size=2, hang_after=2), limits=replace(ROOMY, turn_timeout_s=0.3))
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "hi"})

    [error] = reply.named("error")
    assert reply.text == "abcd"
    assert error["code"] == "timeout" and "partial answer is kept" in error["message"]
    assert reply.named("done")[0]["status"] == "timeout"
    assert server.model().log.cancelled == 1


async def test_stream_fifty_concurrent_streams_all_complete(serve: Serve) -> None:
    server = serve(ScriptedReply(text="Answer for {message}.", chunk_size=4, chunk_delay=0.01))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=60)) as client:
        replies = await asyncio.gather(
            *(
                read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": f"q{n}"}, timeout=30)
                for n in range(50)
            )
        )

    assert [r.text for r in replies] == [f"Answer for q{n}." for n in range(50)]
    assert all(r.named("done")[0]["status"] == "completed" for r in replies)
    assert len({r.headers["x-session-id"] for r in replies}) == 50


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=st.text(min_size=1, max_size=300).filter(lambda s: s.strip() and "\x00" not in s))
def test_stream_any_text_round_trips_through_the_api_unchanged(echo_server: ApiServer, message: str) -> None:
    """Newlines, `data:` lookalikes, [DONE], U+2028 and friends survive SSE framing and httpx-sse."""
    reply = asyncio.run(_ask(echo_server, message))

    assert reply == "<" + clean_message(message, SETTINGS.max_message_chars) + ">"


@pytest.fixture(scope="module")
def echo_server() -> Iterator[ApiServer]:
    config = AssistantConfig(
        backend="scripted", persistent=False, script=(ScriptedReply(text="<{message}>", chunk_size=5),)
    )
    with ApiServer(config, SETTINGS, ROOMY) as server:
        yield server


async def _ask(server: ApiServer, message: str) -> str:
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "POST", f"{server.url}/chat/stream", json={"query": message})
    assert reply.status_code == 200
    return reply.text


def test_healthz_and_openapi_docs(serve: Serve) -> None:
    server = serve(ScriptedReply(text="ok"))

    health = httpx.get(f"{server.url}/healthz")
    docs = httpx.get(f"{server.url}/docs")
    schema = httpx.get(f"{server.url}/openapi.json").json()

    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["backend"] == "scripted"
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert {"get", "post"} <= set(schema["paths"]["/chat/stream"])


def test_index_page_is_served_with_a_content_security_policy(serve: Serve) -> None:
    server = serve(ScriptedReply(text="ok"))

    page = httpx.get(f"{server.url}/")
    script = httpx.get(f"{server.url}/static/client.js")

    assert page.status_code == 200 and '<script src="static/client.js"></script>' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "adk_user=" in page.headers["set-cookie"] and "httponly" in page.headers["set-cookie"].lower()
    assert script.status_code == 200 and "textContent" in script.text


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://localhost:5173", True), ("http://127.0.0.1:9999", True), ("https://evil.example", False)],
)
def test_cors_allows_localhost_origins_by_default(serve: Serve, origin: str, allowed: bool) -> None:
    server = serve(ScriptedReply(text="ok"))

    preflight = httpx.options(
        f"{server.url}/chat/stream",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed


def test_cors_origins_come_from_api_cors_origins(serve: Serve) -> None:
    from streaming_core.api.limits import load_limits

    limits = load_limits({"API_CORS_ORIGINS": "https://demo.example, https://other.example"})
    server = serve(ScriptedReply(text="ok"), limits=limits)

    allowed = httpx.get(f"{server.url}/healthz", headers={"Origin": "https://demo.example"})
    local = httpx.get(f"{server.url}/healthz", headers={"Origin": "http://localhost:3000"})

    assert allowed.headers.get("access-control-allow-origin") == "https://demo.example"
    assert "access-control-allow-origin" not in local.headers
    assert json.loads(allowed.text)["status"] == "ok"


def test_a_misconfigured_backend_answers_503_with_what_to_do() -> None:
    config = AssistantConfig(backend="gemini", persistent=False)
    with ApiServer(config, Settings(backend="gemini", gemini_configured=False), ROOMY) as server:
        health = httpx.get(f"{server.url}/healthz")
        stream = httpx.get(f"{server.url}/chat/stream", params={"query": "hi"})

    assert (health.status_code, stream.status_code) == (503, 503)
    assert stream.json()["error"] == "backend_unavailable" and "GOOGLE_API_KEY" in stream.json()["detail"]
