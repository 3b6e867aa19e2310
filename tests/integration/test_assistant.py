"""Assistant turns through the real ADK Runner and session service, on the scripted model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from google.adk.sessions import InMemorySessionService, Session

from streaming_core.agent import build_agent
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.errors import InvalidInput, UnknownSession
from streaming_core.events import Done, Queued, StreamError, StreamEvent, TextDelta, ToolCall, ToolResult
from streaming_core.sessions import create_session_service

DETAILED = (
    "Streaming sends the answer in pieces as the model writes it, so the reader starts reading "
    "after the first piece instead of waiting for the whole answer to be ready."
)


def make_assistant(*replies: ScriptedReply, tools: tuple[str, ...] = (), db: Path | None = None) -> Assistant:
    model = ScriptedLlm(replies=replies or (ScriptedReply(),))
    return Assistant(build_agent(model, tools=tools), create_session_service(db))


async def run(assistant: Assistant, message: str, **kwargs: object) -> list[StreamEvent]:
    return [event async for event in assistant.stream_turn(message, **kwargs)]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("mode", ["sse", "none"])
async def test_answer_appears_exactly_once(mode: str) -> None:
    assistant = make_assistant(ScriptedReply(text=DETAILED, chunk_size=5))

    events = await run(assistant, "Explain streaming", mode=mode)

    done = events[-1]
    assert isinstance(done, Done) and done.status == "completed"
    assert text_of(events) == DETAILED == done.text
    assert done.matches_final is True


async def test_tutorial_streaming_returns_many_chunks_for_a_detailed_answer() -> None:
    events = await run(make_assistant(ScriptedReply(text=DETAILED, chunk_size=10)), "Explain in detail")

    chunks = [e for e in events if isinstance(e, TextDelta)]
    assert len(chunks) > 1
    assert len(text_of(events)) > 100


async def test_tutorial_count_to_ten() -> None:
    counting = ", ".join(str(n) for n in range(1, 11))
    events = await run(make_assistant(ScriptedReply(text=counting, chunk_size=3)), "Count to 10")

    answer = text_of(events)
    assert all(str(n) in answer for n in range(1, 11))


async def test_second_turn_sends_the_first_turn_to_the_model() -> None:
    assistant = make_assistant(ScriptedReply(text="Nice to meet you, Ada."))
    first = await run(assistant, "My name is Ada.")

    await run(assistant, "What is my name?", session_id=first[-1].session_id)

    model = assistant.agent.model
    assert isinstance(model, ScriptedLlm)
    seen = [p.text for c in model.log.requests[-1].contents for p in c.parts or [] if p.text]
    assert seen == ["My name is Ada.", "Nice to meet you, Ada.", "What is my name?"]


async def test_conversation_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    first = await run(make_assistant(db=db), "Remember me")

    restarted = make_assistant(db=db)
    history = await restarted.history(first[-1].session_id)
    conversations = await restarted.conversations()

    assert [m.role for m in history] == ["user", "assistant"]
    assert conversations[0].title == "Remember me"


async def test_model_failure_mid_stream_keeps_partial_text_and_session_usable() -> None:
    assistant = make_assistant(ScriptedReply(text="abcdefghij", chunk_size=2, fail_after=3), ScriptedReply(text="ok"))

    events = await run(assistant, "hi")
    error = next(e for e in events if isinstance(e, StreamError))
    done = events[-1]
    again = await run(assistant, "again", session_id=done.session_id)

    assert text_of(events) == "abcdef"
    assert error.code == "upstream" and "after 3 chunks" in error.message
    assert isinstance(done, Done) and done.status == "error"
    history = await assistant.history(done.session_id)
    assert [(m.text, m.interrupted) for m in history[:2]] == [("hi", None), ("abcdef", "error")]
    assert text_of(again) == "ok"


async def test_timeout_keeps_partial_text_and_cancels_the_model() -> None:
    assistant = make_assistant(ScriptedReply(text="abcdef", chunk_size=2, hang_after=2))

    events = await run(assistant, "hi", timeout_s=0.3)

    done = events[-1]
    assert isinstance(done, Done) and done.status == "timeout"
    assert text_of(events) == "abcd"
    assert any(isinstance(e, StreamError) and e.code == "timeout" for e in events)
    model = assistant.agent.model
    assert isinstance(model, ScriptedLlm) and model.log.cancelled == 1
    history = await assistant.history(done.session_id)
    assert history[-1].interrupted == "timeout"


async def test_cancelling_the_consumer_cancels_the_model_and_keeps_partial_text() -> None:
    assistant = make_assistant(ScriptedReply(text="abcdef", chunk_size=2, hang_after=1))
    got_chunk = asyncio.Event()
    session_ids: list[str] = []

    async def consume() -> None:
        turn = await assistant.open_turn("hi")
        session_ids.append(turn.session_id)
        async for event in turn.events():
            if isinstance(event, TextDelta):
                got_chunk.set()

    task = asyncio.create_task(consume())
    await got_chunk.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    model = assistant.agent.model
    assert isinstance(model, ScriptedLlm) and model.log.cancelled == 1
    history = await assistant.history(session_ids[0])
    assert (history[-1].text, history[-1].interrupted) == ("ab", "stopped")


async def test_tool_call_and_result_are_streamed_between_text() -> None:
    replies = (
        ScriptedReply(
            function_call=("convert_units", {"value": 10, "from_unit": "km", "to_unit": "mi"}),
            text="10 km is {tool_result}",
        ),
    )
    events = await run(make_assistant(*replies, tools=("convert_units",)), "10 km in miles?")

    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ToolCall") < kinds.index("ToolResult") < kinds.index("TextDelta")
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.response["value"] == pytest.approx(6.213712)
    assert next(e for e in events if isinstance(e, ToolCall)).name == "convert_units"
    assert "6.213712" in text_of(events)


async def test_bad_input_is_rejected_before_anything_streams() -> None:
    assistant = make_assistant()

    with pytest.raises(InvalidInput):
        await assistant.open_turn("   ")
    with pytest.raises(UnknownSession):
        await assistant.open_turn("hi", session_id="no-such-session")
    model = assistant.agent.model
    assert isinstance(model, ScriptedLlm) and model.log.started == 0


async def test_sessions_of_one_user_are_invisible_to_another() -> None:
    assistant = make_assistant()
    events = await run(assistant, "private", user_id="alice")

    with pytest.raises(UnknownSession):
        await assistant.history(events[-1].session_id, user_id="mallory")
    assert await assistant.conversations(user_id="mallory") == []


async def test_delete_conversation_removes_it() -> None:
    assistant = make_assistant()
    events = await run(assistant, "bye")

    await assistant.delete_conversation(events[-1].session_id)

    assert await assistant.conversations() == []


async def test_two_tabs_in_one_conversation_take_turns_and_lose_nothing(tmp_path: Path) -> None:
    """Overlapping turns on one session: the second waits (announced), both are saved in order."""
    assistant = make_assistant(ScriptedReply(text="first answer", chunk_size=3, chunk_delay=0.2), db=tmp_path / "s.db")
    session_id = await assistant.start_conversation()
    first_started = asyncio.Event()

    async def tab(message: str, signal: asyncio.Event | None = None) -> list[StreamEvent]:
        events = []
        async for event in assistant.stream_turn(message, session_id=session_id):
            if signal is not None:
                signal.set()
            events.append(event)
        return events

    first_task = asyncio.create_task(tab("from tab one", first_started))
    await first_started.wait()
    second = await tab("from tab two")
    first = await first_task

    assert not any(isinstance(e, Queued) for e in first)
    assert isinstance(second[0], Queued) and second[0].reason == "conversation_busy"
    assert first[-1].status == second[-1].status == "completed"
    history = await assistant.history(session_id)
    assert [(m.role, m.text) for m in history] == [
        ("user", "from tab one"),
        ("assistant", "first answer"),
        ("user", "from tab two"),
        ("assistant", "first answer"),
    ]


async def test_a_question_is_marked_unanswered_only_once_its_turn_is_over() -> None:
    assistant = make_assistant(ScriptedReply(text="never sent", hang_after=0))
    session_id = await assistant.start_conversation()
    turn = asyncio.create_task(run(assistant, "still thinking?", session_id=session_id))
    async with asyncio.timeout(10):  # ADK saves the question before calling the model
        while not (during := await assistant.history(session_id)):
            await asyncio.sleep(0.01)

    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    after = await assistant.history(session_id)

    assert [(m.role, m.text) for m in during] == [("user", "still thinking?")]
    assert [(m.role, m.interrupted) for m in after] == [("user", None), ("assistant", "unanswered")]


async def test_conversation_list_reads_titles_from_session_state_not_every_event() -> None:
    class CountingSessions(InMemorySessionService):
        reads = 0

        async def get_session(self, **kwargs: Any) -> Session | None:
            CountingSessions.reads += 1
            return await super().get_session(**kwargs)

    assistant = Assistant(build_agent(ScriptedLlm()), CountingSessions())
    for question in ["First question\nwith a second line", "x" * 60]:
        await run(assistant, question)
    untitled = await assistant.start_conversation()  # no first message: titled from its events
    await run(assistant, "Asked later", session_id=untitled)
    CountingSessions.reads = 0

    titles = {info.title for info in await assistant.conversations()}

    assert titles == {"First question", "x" * 48 + "…", "Asked later"}
    assert CountingSessions.reads == 1  # only the untitled conversation was read


async def test_the_time_limit_covers_waiting_for_the_other_answer_in_the_conversation() -> None:
    assistant = make_assistant(ScriptedReply(text="never ends", hang_after=0))
    session_id = await assistant.start_conversation()
    first = asyncio.create_task(run(assistant, "first", session_id=session_id))
    async with asyncio.timeout(10):  # the first turn holds the conversation once its question is saved
        while not await assistant.history(session_id):
            await asyncio.sleep(0.01)

    second = await run(assistant, "second", session_id=session_id, timeout_s=0.2)
    first.cancel()

    queued, error, done = second
    assert isinstance(queued, Queued) and queued.reason == "conversation_busy"
    assert isinstance(error, StreamError) and error.code == "timeout"
    assert "waiting for the other answer" in error.message
    assert isinstance(done, Done) and done.status == "timeout"
    model = assistant.agent.model
    assert isinstance(model, ScriptedLlm) and model.log.started == 1  # the second never reached the model
