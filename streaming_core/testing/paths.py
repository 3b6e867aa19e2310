"""The two paths a turn takes to a person, each driven the way its consumer drives it, and `observe`,
which plays one fault on a path and records what the consumer ended up with.

core: the Streamlit pages' route, `stream_turn_sync` consumed on this thread (heartbeats skipped).
api: the SSE API on a real uvicorn, read with httpx-sse as a client would.
Both reach Gemini through google-genai over HTTP, against the fake's address in the environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TypeAlias

import httpx
import pytest
from google.adk.models.google_llm import Gemini

from streaming_core.api.limits import ApiLimits
from streaming_core.events import Done, Heartbeat, StreamError
from streaming_core.runtime import AssistantConfig, forget_assistants
from streaming_core.settings import load_settings
from streaming_core.sync_api import stream_turn_sync
from streaming_core.testing.fake_gemini import FakeGeminiServer, Scenario, fake_gemini_environment
from streaming_core.testing.faults import NEXT_ANSWER, NEXT_PROMPT, PROMPT, Answer, Fault, Observed
from streaming_core.testing.servers import ApiServer
from streaming_core.testing.sse import SseReply, read_sse

Ask: TypeAlias = Callable[[str, str | None], Answer]  # (message, session id) -> the turn as seen

PATHS = {"core": "Streamlit core (`stream_turn_sync`)", "api": "SSE API (uvicorn + httpx-sse)"}
# The core path's assistant is cached for the process on the background loop, with the Gemini
# client and SQLite file of the environment it was first built in; no other test uses this config.
CORE_CONFIG = AssistantConfig(backend="gemini", persistent=True)
API_LIMITS = ApiLimits(max_streams_per_client=1000, rate_per_minute=1_000_000, max_runs=5000, grace_s=0, ping_s=0)


@contextmanager
def gemini_for_paths(sessions: Path, *, keep: int | None = None) -> Iterator[FakeGeminiServer]:
    """One fake Gemini for both paths, in the environment before the core path's assistant is built,
    with the core path's SQLite file under `sessions`. That assistant is cached (runtime) with the
    Gemini address and SESSION_DB it was built with, so it is forgotten on entry and on exit: each
    fake gets its own, and none outlives its fake."""
    with pytest.MonkeyPatch.context() as patch, fake_gemini_environment(patch, keep=keep) as server:
        patch.setenv("SESSION_DB", str(sessions / "core.db"))
        forget_assistants(CORE_CONFIG)
        try:
            yield server
        finally:
            forget_assistants(CORE_CONFIG)


def ask_core(timeout_s: float, mode: str = "sse") -> Ask:
    def ask(message: str, session_id: str | None) -> Answer:
        stream = stream_turn_sync(message, CORE_CONFIG, session_id=session_id, mode=mode, timeout_s=timeout_s)
        events = [event for event in stream if not isinstance(event, Heartbeat)]
        done = events[-1]
        assert isinstance(done, Done)
        errors = tuple((e.code, e.message) for e in events if isinstance(e, StreamError))
        return Answer(done.status, errors, done.text, done.session_id or "", "\n".join(map(repr, events)))

    return ask


@contextmanager
def gemini_api(session_db: Path, limits: ApiLimits = API_LIMITS) -> Iterator[ApiServer]:
    """The SSE API on the Gemini backend, with its own SQLite file (the core path has another)."""
    settings = replace(load_settings(), session_db=session_db)
    with ApiServer(AssistantConfig(backend="gemini", persistent=True), settings, limits) as server:
        yield server
        # Nothing closes ADK's genai client (one per loop), so its sockets would outlive the server.
        # `api_client` must be read on the server's loop: read anywhere else, it is another client.
        model = server.assistant().agent.model
        assert isinstance(model, Gemini)

        async def close_client() -> None:
            await model.api_client.aio.aclose()

        server.call_async(close_client)


def ask_api(server: ApiServer) -> Ask:
    def ask(message: str, session_id: str | None) -> Answer:
        return answer_from(asyncio.run(_post(server.url, message, session_id)))

    return ask


def answer_from(reply: SseReply) -> Answer:
    done = reply.named("done")
    errors = tuple((e["code"], e["message"]) for e in reply.named("error"))
    status = done[-1]["status"] if done else ""
    return Answer(status, errors, reply.text, reply.headers.get("x-session-id", ""), sse_wire(reply))


@contextmanager
def open_path(path: str, timeout_s: float, sessions: Path) -> Iterator[Ask]:
    """A way to ask on `path` ("core" or "api") with a turn time limit of `timeout_s`."""
    if path == "core":
        yield ask_core(timeout_s)
        return
    with gemini_api(sessions / "api.db", replace(API_LIMITS, turn_timeout_s=timeout_s)) as server:
        yield ask_api(server)


def observe(fault: Fault, fake: FakeGeminiServer, ask: Ask) -> Observed:
    """Plays `fault` for one turn, then asks again on the same session, which the fake answers."""
    fake.clear()
    fake.enqueue(*fault.scenarios, Scenario.reply(NEXT_ANSWER))
    before = fake.request_count
    first = ask(PROMPT, None)
    made = fake.request_count - before
    after = ask(NEXT_PROMPT, first.session_id or None)
    return Observed(first, made, after, tuple(fake.requests[-1].turns))


def sse_wire(reply: SseReply) -> str:
    """Headers and every event as received, to search for things a client must never see."""
    events = "\n".join(f"{e.id} {e.event} {e.data}" for e in reply.events)
    return f"{reply.status_code} {reply.headers}\n{events}"


async def post_turn(
    client: httpx.AsyncClient, url: str, message: str, session_id: str | None = None, *, limit: int | None = None
) -> SseReply:
    """One turn as the API's JSON POST; `limit` hangs up after that many events."""
    body = {"query": message, "session_id": session_id}
    return await read_sse(client, "POST", f"{url}/chat/stream", json=body, limit=limit)


async def _post(url: str, message: str, session_id: str | None) -> SseReply:
    async with httpx.AsyncClient(timeout=60) as client:
        return await post_turn(client, url, message, session_id)
