"""Assistant turns on the Gemini backend over HTTP: the real genai client against the local fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from streaming_core.assistant import Assistant
from streaming_core.events import Done, StreamError, StreamEvent, TextDelta
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.settings import load_settings
from streaming_core.testing.fake_gemini import SENTINEL_KEY, FakeGeminiServer, Scenario

ANSWER = "Gemini streams this answer in several pieces over server-sent events."


@pytest_asyncio.fixture
async def assistant(fake_gemini: FakeGeminiServer) -> AsyncIterator[Assistant]:
    # Each piece Gemini sends stays a delta; coalescing over Gemini: tests/integration/test_coalescing.py.
    built = build_assistant(AssistantConfig(backend="auto", persistent=False, coalesce=False), load_settings())
    yield built
    await built.agent.model.api_client.aio.aclose()


async def run(assistant: Assistant, message: str, **kwargs: object) -> list[StreamEvent]:
    return [event async for event in assistant.stream_turn(message, **kwargs)]


async def test_auto_with_a_key_streams_from_gemini_exactly_once(
    assistant: Assistant, fake_gemini: FakeGeminiServer
) -> None:
    fake_gemini.enqueue(Scenario.reply(ANSWER, chunks=5))

    events = await run(assistant, "Explain SSE")

    deltas = [e for e in events if isinstance(e, TextDelta)]
    done = events[-1]
    assert len(deltas) == 5
    assert "".join(d.text for d in deltas) == ANSWER
    assert isinstance(done, Done) and done.status == "completed" and done.matches_final is True
    assert fake_gemini.requests[0].api_key == SENTINEL_KEY


async def test_quota_error_is_a_clear_message_and_the_next_turn_works(
    assistant: Assistant, fake_gemini: FakeGeminiServer
) -> None:
    fake_gemini.enqueue(Scenario.quota_exhausted(retry_delay="17s"), Scenario.reply("Back again."))

    failed = await run(assistant, "hi")
    again = await run(assistant, "hi again", session_id=failed[-1].session_id)

    error = next(e for e in failed if isinstance(e, StreamError))
    assert error.code == "quota" and error.retry_after == 17
    assert "quota" in error.message.lower() and SENTINEL_KEY not in error.message
    assert "".join(e.text for e in again if isinstance(e, TextDelta)) == "Back again."


async def test_connection_cut_mid_stream_keeps_the_partial_answer(
    assistant: Assistant, fake_gemini: FakeGeminiServer
) -> None:
    fake_gemini.enqueue(Scenario.cut("one two three four", after_chunks=2, chunks=4))

    events = await run(assistant, "hi")

    error = next(e for e in events if isinstance(e, StreamError))
    partial = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert error.code == "network"
    assert partial and "one two three four".startswith(partial)
    history = await assistant.history(events[-1].session_id)
    assert (history[-1].text, history[-1].interrupted) == (partial, "error")
