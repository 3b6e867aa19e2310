"""Resuming with Last-Event-ID, the grace period, cancel-on-disconnect and shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TypeAlias

import httpx
import pytest

from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings
from streaming_core.testing.servers import ApiServer, eventually
from streaming_core.testing.sse import read_sse
from streaming_core.visitors import DEFAULT_USER

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
SETTINGS = Settings(backend="scripted")

Serve: TypeAlias = Callable[..., ApiServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    with ExitStack() as stack:

        def start(reply: ScriptedReply, *, coalesce: bool = True, **limits: float) -> ApiServer:
            config = AssistantConfig(backend="scripted", persistent=False, script=(reply,), coalesce=coalesce)
            api_limits = ApiLimits(max_streams_per_client=50, rate_per_minute=1000, ping_s=0, **limits)  # type: ignore[arg-type]
            return stack.enter_context(ApiServer(config, SETTINGS, api_limits))

        yield start


def runs(server: ApiServer) -> int:
    return int(httpx.get(f"{server.url}/healthz").json()["runs"])


async def test_resume_with_last_event_id_loses_and_repeats_nothing(serve: Serve) -> None:
    server = serve(ScriptedReply(text=ALPHABET, chunk_size=2, chunk_delay=0.02))
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        before = await read_sse(client, "GET", url, params={"query": "go"}, limit=5)  # then hangs up
        after = await read_sse(
            client, "GET", url, params={"query": "go"}, headers={"Last-Event-ID": before.events[-1].id}
        )

    events = before.events + after.events
    run_id = before.headers["x-run-id"]
    assert [e.id for e in events] == [f"{run_id}:{n}" for n in range(1, len(events) + 1)]
    assert before.text + after.text == ALPHABET
    assert after.headers["x-session-id"] == before.headers["x-session-id"]
    assert after.events[-1].data == "[DONE]"
    assert server.model().log.started == 1  # resumed, not asked again


async def test_resume_after_the_run_finished_sends_the_rest(serve: Serve) -> None:
    server = serve(ScriptedReply(text=ALPHABET, chunk_size=3))
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        before = await read_sse(client, "GET", url, params={"query": "go"}, limit=2)
        model = server.model()
        await eventually(lambda: model.log.completed == 1)
        after = await read_sse(client, "GET", url, headers={"Last-Event-ID": before.events[-1].id})

    assert before.text + after.text == ALPHABET
    assert after.named("done")[0]["status"] == "completed"


async def test_disconnect_without_return_cancels_the_model_after_the_grace_period(serve: Serve) -> None:
    server = serve(ScriptedReply(text="abcdef", chunk_size=2, hang_after=2), grace_s=0.5)
    model = server.model()
    async with httpx.AsyncClient() as client:
        await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "go"}, limit=2)
    left = time.monotonic()

    assert model.log.cancelled == 0  # still inside the grace period
    await eventually(lambda: model.log.cancelled == 1)
    assert time.monotonic() - left >= 0.45
    assert runs(server) == 0


async def test_client_returning_within_the_grace_period_keeps_the_run(serve: Serve) -> None:
    server = serve(ScriptedReply(text=ALPHABET, chunk_size=2, chunk_delay=0.02), grace_s=10)
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        before = await read_sse(client, "GET", url, params={"query": "go"}, limit=3)
        after = await read_sse(client, "GET", url, headers={"Last-Event-ID": before.events[-1].id})

    model = server.model()
    assert before.text + after.text == ALPHABET
    assert (model.log.completed, model.log.cancelled) == (1, 0)


async def test_resume_of_an_unknown_run_gets_an_error_event_then_done(serve: Serve) -> None:
    server = serve(ScriptedReply(text="ok"))
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", url, params={"query": "go"}, headers={"Last-Event-ID": "nope:3"})
        again = await client.get(url, params={"query": "go"}, headers={"Last-Event-ID": reply.events[-1].id})

    [error] = reply.named("error")
    assert error["code"] == "unknown_run" and "no longer available" in error["message"]
    assert [(e.event, e.data, e.id) for e in reply.events][-1] == ("message", "[DONE]", "nope:gone")
    assert again.status_code == 204  # the one status that stops EventSource reconnecting
    assert server.model().log.started == 0


async def test_resume_after_the_done_marker_gets_204(serve: Serve) -> None:
    server = serve(ScriptedReply(text="ok"))
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", url, params={"query": "go"})
        again = await client.get(url, params={"query": "go"}, headers={"Last-Event-ID": reply.events[-1].id})

    assert again.status_code == 204
    assert server.model().log.started == 1


async def test_resume_after_expiry_gets_unknown_run(serve: Serve) -> None:
    server = serve(ScriptedReply(text="ok"), grace_s=0.2)
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", url, params={"query": "go"}, limit=1)
        await eventually(lambda: runs(server) == 0)
        again = await read_sse(client, "GET", url, headers={"Last-Event-ID": reply.events[-1].id})

    assert again.named("error")[0]["code"] == "unknown_run"


async def test_resume_by_another_user_looks_like_an_unknown_run(serve: Serve) -> None:
    server = serve(ScriptedReply(text=ALPHABET, chunk_size=2, hang_after=3), grace_s=10)
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        alice = await read_sse(client, "GET", url, params={"query": "go"}, headers={"X-User-Id": "alice"}, limit=2)
        mallory = await read_sse(
            client, "GET", url, headers={"X-User-Id": "mallory", "Last-Event-ID": alice.events[-1].id}
        )

    assert mallory.named("error")[0]["code"] == "unknown_run"
    assert mallory.text == ""


async def test_resume_older_than_the_buffer_gets_a_resume_gap_error(serve: Serve) -> None:
    # Every chunk its own event, so the answer's 72 overflow the buffer of 16.
    server = serve(ScriptedReply(text=ALPHABET * 2, chunk_size=1), buffer_events=16, coalesce=False)
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        whole = await read_sse(client, "GET", url, params={"query": "go"})
        late = await read_sse(client, "GET", url, headers={"Last-Event-ID": whole.events[0].id})

    assert whole.text == ALPHABET * 2
    assert late.named("error")[0]["code"] == "resume_gap"
    assert late.text == "" and late.events[-1].data == "[DONE]"


async def test_a_fast_model_waits_for_a_slow_reader_instead_of_dropping_events(serve: Serve) -> None:
    """Regression: the run produced past the buffer before its first reader started reading, and
    that reader got a resume_gap error instead of the answer."""
    server = serve(ScriptedReply(text=ALPHABET * 3, chunk_size=1), buffer_events=16)
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "go"})

    assert reply.named("error") == []
    assert reply.text == ALPHABET * 3


async def test_a_run_nobody_reads_pauses_at_the_buffer_bound_then_is_cancelled(serve: Serve) -> None:
    server = serve(ScriptedReply(text="x" * 400, chunk_size=1, chunk_delay=0.005), buffer_events=16, grace_s=1.0)
    model = server.model()
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "go"}, limit=1)

    await eventually(lambda: model.log.cancelled == 1)
    assistant = server.assistant()
    history = server.call_async(lambda: assistant.history(reply.headers["x-session-id"], DEFAULT_USER))
    # Unpaused, the model would have streamed ~200 chunks during the 1 s grace period.
    assert history[-1].interrupted == "stopped" and len(history[-1].text) < 60
    assert runs(server) == 0


async def test_delete_run_cancels_the_model_without_waiting_for_the_grace_period(serve: Serve) -> None:
    server = serve(ScriptedReply(text="abcdef", chunk_size=2, hang_after=2), grace_s=60)
    model = server.model()
    async with httpx.AsyncClient() as client:
        reply = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "go"}, limit=1)
        run_url = f"{server.url}/chat/runs/{reply.headers['x-run-id']}"
        not_theirs = await client.delete(run_url, headers={"X-User-Id": "mallory"})
        deleted = await client.delete(run_url)
        await eventually(lambda: model.log.cancelled == 1)
        again = await client.delete(run_url)

    assert (not_theirs.status_code, deleted.status_code, again.status_code) == (404, 204, 404)
    assert again.json()["error"] == "unknown_run"


async def test_delete_run_ends_an_attached_stream_with_an_error_and_done(serve: Serve) -> None:
    server = serve(ScriptedReply(text="abcdef", chunk_size=2, hang_after=2))
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client, client.stream("GET", url, params={"query": "go"}) as response:
        lines = response.aiter_lines()
        while await anext(lines) != 'data: {"text":"cd"}':
            pass
        await client.delete(f"{server.url}/chat/runs/{response.headers['x-run-id']}")
        rest = [line async for line in lines if line.startswith(("event:", "data:"))]

    assert rest == ["event: error", rest[1], "data: [DONE]"]
    assert '"code":"cancelled"' in rest[1]


async def test_shutdown_cancels_every_run(serve: Serve) -> None:
    server = serve(ScriptedReply(text="abcdef", chunk_size=2, hang_after=2), grace_s=60)
    model = server.model()
    async with httpx.AsyncClient() as client:
        await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "go"}, limit=1)

    server.stop()

    assert (model.log.started, model.log.cancelled) == (1, 1)


async def test_many_abandoned_streams_leave_no_tasks_runs_or_slots(serve: Serve) -> None:
    server = serve(ScriptedReply(text="abcdef", chunk_size=2, hang_after=1), grace_s=0.05)
    model = server.model()
    url = f"{server.url}/chat/stream"
    limiter = server.app.state.api.limiter

    def tasks() -> int:
        return server.call(lambda: len(asyncio.all_tasks(server.server.loop)))

    async with httpx.AsyncClient() as client:
        await read_sse(client, "GET", url, params={"query": "warm up"}, limit=1)
        await eventually(lambda: model.log.cancelled == 1 and runs(server) == 0)
        baseline = tasks()

        await asyncio.gather(*(read_sse(client, "GET", url, params={"query": f"q{n}"}, limit=1) for n in range(40)))

    await eventually(lambda: model.log.cancelled == 41 and runs(server) == 0, message="every run cancelled")
    await eventually(lambda: server.call(lambda: limiter.open_streams("127.0.0.1")) == 0, message="slots freed")
    await eventually(lambda: tasks() <= baseline, message=f"tasks back to {baseline}")
