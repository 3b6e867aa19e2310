"""Coalescing at the model seam through the real ADK Runner: fewer events, the same answer."""

from __future__ import annotations

import asyncio

import pytest

from streaming_core.agent import build_agent
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.events import Done, StreamEvent, TextDelta, ToolCall
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.sessions import create_session_service
from streaming_core.settings import load_settings
from streaming_core.testing.fake_gemini import FakeGeminiServer, Scenario

ANSWER = "".join(chr(ord("a") + n % 26) for n in range(2_000))


def make_assistant(*replies: ScriptedReply, coalesce: bool = True, tools: tuple[str, ...] = ()) -> Assistant:
    model = ScriptedLlm(replies=replies)
    return Assistant(build_agent(model, tools=tools), create_session_service(None), coalesce=coalesce)


async def deltas_and_done(assistant: Assistant, message: str = "go") -> tuple[list[str], Done]:
    events: list[StreamEvent] = [event async for event in assistant.stream_turn(message)]
    done = events[-1]
    assert isinstance(done, Done)
    return [e.text for e in events if isinstance(e, TextDelta)], done


async def test_a_reader_behind_a_model_that_never_waits_gets_fewer_deltas_of_the_same_answer() -> None:
    deltas, done = await deltas_and_done(make_assistant(ScriptedReply(text=ANSWER, chunk_size=1)))

    assert "".join(deltas) == ANSWER and done.text == ANSWER
    assert done.status == "completed" and done.matches_final is True  # ADK's final event agrees
    assert len(deltas) < len(ANSWER) // 10
    assert deltas[0] == ANSWER[0]  # the first chunk goes out alone, as soon as the model sends it


async def test_with_coalescing_off_every_chunk_is_its_own_delta() -> None:
    deltas, done = await deltas_and_done(make_assistant(ScriptedReply(text=ANSWER, chunk_size=3), coalesce=False))

    assert deltas == [ANSWER[i : i + 3] for i in range(0, len(ANSWER), 3)]
    assert done.matches_final is True


async def test_a_reader_that_keeps_up_sees_every_chunk_the_model_sent() -> None:
    reply = ScriptedReply(text="abcdefghij" * 2, chunk_size=2, chunk_delay=0.02)

    deltas, _ = await deltas_and_done(make_assistant(reply))

    assert "".join(deltas) == "abcdefghij" * 2 and len(deltas) > 1


async def test_the_first_chunk_reaches_the_reader_while_the_model_is_still_silent() -> None:
    assistant = make_assistant(ScriptedReply(text="first and never more", chunk_size=6, hang_after=1))

    events = [event async for event in assistant.stream_turn("go", timeout_s=1.0)]

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["first "]
    assert isinstance(events[-1], Done) and events[-1].status == "timeout"


async def test_a_function_call_between_texts_still_runs_its_tool() -> None:
    reply = ScriptedReply(
        function_call=("convert_units", {"value": 10, "from_unit": "km", "to_unit": "mi"}),
        text="10 km is {tool_result} " + "x" * 500,
        chunk_size=1,
    )
    events = [event async for event in make_assistant(reply, tools=("convert_units",)).stream_turn("10 km?")]

    done = events[-1]
    assert [e.name for e in events if isinstance(e, ToolCall)] == ["convert_units"]
    assert isinstance(done, Done) and done.matches_final is True and done.text.endswith("x" * 500)
    assert "6.213712" in done.text


async def test_stop_cancels_the_model_call_and_leaves_no_task_behind() -> None:
    assistant = make_assistant(ScriptedReply(text="x" * 400, chunk_size=1, hang_after=300))
    got_chunk = asyncio.Event()
    before = asyncio.all_tasks()

    async def consume() -> None:
        async for event in assistant.stream_turn("go"):
            if isinstance(event, TextDelta):
                got_chunk.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_chunk.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    model = assistant.agent.model
    assert isinstance(model, ScriptedLlm) and model.log.cancelled == 1
    assert asyncio.all_tasks() == before


async def test_a_burst_from_gemini_is_joined_and_matches_adk_s_aggregated_final(fake_gemini: FakeGeminiServer) -> None:
    answer = " ".join(f"word{n}" for n in range(300))
    fake_gemini.enqueue(Scenario.reply(answer, chunks=150))  # all at once: a reader behind the network
    assistant = build_assistant(AssistantConfig(backend="gemini", persistent=False), load_settings())
    try:
        deltas, done = await deltas_and_done(assistant)
    finally:
        await assistant.agent.model.api_client.aio.aclose()  # type: ignore[union-attr]

    assert "".join(deltas) == answer and done.text == answer
    assert done.status == "completed" and done.matches_final is True
    assert len(deltas) < 150
