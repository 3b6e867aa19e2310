"""EventNormalizer: the answer exactly once in SSE and NONE modes, tools, odd parts."""

from __future__ import annotations

from google.adk.events.event import Event
from google.genai import types

from streaming_core.events import StreamError, TextDelta, ToolCall, ToolResult
from streaming_core.normalize import EventNormalizer


def model_event(*parts: types.Part, partial: bool = False, **fields: object) -> Event:
    content = types.Content(role="model", parts=list(parts)) if parts else None
    return Event(author="assistant", content=content, partial=partial, **fields)


def text(value: str) -> types.Part:
    return types.Part(text=value)


def joined(events: list[object]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def test_sse_mode_final_event_confirms_instead_of_repeating() -> None:
    normalizer = EventNormalizer()
    out = []
    for piece in ["The ", "answer ", "is 42."]:
        out += normalizer.feed(model_event(text(piece), partial=True))
    out += normalizer.feed(model_event(text("The answer is 42.")))

    assert joined(out) == "The answer is 42."
    assert normalizer.matches_final is True


def test_none_mode_final_text_becomes_a_single_delta() -> None:
    normalizer = EventNormalizer()

    out = normalizer.feed(model_event(text("Whole answer.")))

    assert out == [TextDelta("Whole answer.")]
    assert normalizer.text == "Whole answer."


def test_text_split_across_many_partial_events_joins_exactly() -> None:
    answer = "Streaming " * 300
    normalizer = EventNormalizer()
    out = [e for ch in answer for e in normalizer.feed(model_event(text(ch), partial=True))]
    out += normalizer.feed(model_event(text(answer)))

    assert joined(out) == answer
    assert len(out) == len(answer)


def test_final_tail_missing_from_deltas_is_emitted_once() -> None:
    normalizer = EventNormalizer()
    out = normalizer.feed(model_event(text("Hello"), partial=True))
    out += normalizer.feed(model_event(text("Hello world")))

    assert joined(out) == "Hello world"
    assert normalizer.matches_final is False


def test_final_that_contradicts_deltas_adds_nothing() -> None:
    normalizer = EventNormalizer()
    out = normalizer.feed(model_event(text("Hello"), partial=True))
    out += normalizer.feed(model_event(text("Goodbye")))

    assert joined(out) == "Hello"
    assert normalizer.matches_final is False


def test_function_call_is_reported_once_from_the_final_event() -> None:
    call = types.Part(function_call=types.FunctionCall(name="get_current_time", args={"timezone": "UTC"}, id="c1"))
    normalizer = EventNormalizer()
    out = normalizer.feed(model_event(text("Checking"), partial=True))
    out += normalizer.feed(model_event(call, partial=True))
    out += normalizer.feed(model_event(text("Checking"), call))

    assert [e for e in out if isinstance(e, ToolCall)] == [ToolCall("get_current_time", {"timezone": "UTC"}, "c1")]
    assert joined(out) == "Checking"


def test_function_response_becomes_a_tool_result() -> None:
    response = types.Part(
        function_response=types.FunctionResponse(name="convert_units", response={"value": 1.0}, id="c1")
    )
    out = EventNormalizer().feed(model_event(response))

    assert out == [ToolResult("convert_units", {"value": 1.0}, "c1")]


def test_multi_part_content_and_thoughts() -> None:
    thought = types.Part(text="secret reasoning", thought=True)
    out = EventNormalizer().feed(model_event(thought, text("A"), types.Part(), text("B")))

    assert joined(out) == "AB"


def test_empty_parts_and_missing_content_yield_nothing() -> None:
    normalizer = EventNormalizer()

    assert normalizer.feed(model_event(types.Part(), partial=True)) == []
    assert normalizer.feed(model_event()) == []
    assert normalizer.feed(Event(author="assistant", content=types.Content(role="model", parts=None))) == []


def test_user_events_are_ignored() -> None:
    event = Event(author="user", content=types.Content(role="user", parts=[text("hi")]))

    assert EventNormalizer().feed(event) == []


def test_safety_stop_without_content_is_a_blocked_error() -> None:
    out = EventNormalizer().feed(model_event(error_code="SAFETY", error_message=None))

    assert len(out) == 1 and isinstance(out[0], StreamError)
    assert out[0].code == "blocked"


def test_tool_round_trip_resets_streamed_text_between_model_calls() -> None:
    normalizer = EventNormalizer()
    call = types.Part(function_call=types.FunctionCall(name="t", args={}))
    result = types.Part(function_response=types.FunctionResponse(name="t", response={"ok": True}))
    out = normalizer.feed(model_event(call))
    out += normalizer.feed(Event(author="assistant", content=types.Content(role="user", parts=[result])))
    out += normalizer.feed(model_event(text("Done"), partial=True))
    out += normalizer.feed(model_event(text("Done")))

    assert [type(e).__name__ for e in out] == ["ToolCall", "ToolResult", "TextDelta"]
    assert normalizer.text == "Done"
    assert normalizer.unconfirmed_text == ""
