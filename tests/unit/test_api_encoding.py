"""SSE wire encoding, byte for byte, and a round trip through httpx-sse's own parser."""

from __future__ import annotations

import json

import pytest
from httpx._decoders import LineDecoder
from httpx_sse._decoders import SSEDecoder
from hypothesis import given
from hypothesis import strategies as st

from streaming_core.api.encoding import END, EndOfStream, RunItem, encode_item, event_payload
from streaming_core.events import Done, StreamError, TextDelta, ToolCall, ToolResult
from streaming_core.metrics import StreamSummary

SUMMARY = StreamSummary(time_to_first_chunk=0.25, total_time=1.0, chunk_count=4, char_count=20)


def test_encode_chunk_is_an_unnamed_event_with_json_text() -> None:
    assert encode_item(TextDelta("Hello"), "r:1").encode() == b'id: r:1\r\ndata: {"text":"Hello"}\r\n\r\n'


def test_encode_first_event_carries_the_retry_delay() -> None:
    encoded = encode_item(TextDelta("Hi"), "r:1", retry_ms=1000).encode()

    assert encoded == b'id: r:1\r\ndata: {"text":"Hi"}\r\nretry: 1000\r\n\r\n'


def test_encode_newlines_stay_inside_one_data_line() -> None:
    encoded = encode_item(TextDelta("a\nb\r\ndata: [DONE]\n\n"), "r:2").encode()

    assert encoded == b'id: r:2\r\ndata: {"text":"a\\nb\\r\\ndata: [DONE]\\n\\n"}\r\n\r\n'


def test_encode_non_ascii_is_utf8_but_line_separators_are_escaped() -> None:
    encoded = encode_item(TextDelta("é\u2028x\u2029y\x85"), "r:3").encode()

    assert encoded == 'id: r:3\r\ndata: {"text":"é\\u2028x\\u2029y\\u0085"}\r\n\r\n'.encode()


def test_encode_tool_call_and_result_are_named_events() -> None:
    call = encode_item(ToolCall("convert_units", {"value": 1}, "c1"), "r:4").encode()
    result = encode_item(ToolResult("convert_units", {"status": "ok"}, "c1"), "r:5").encode()

    assert (
        call
        == b'id: r:4\r\nevent: tool_call\r\ndata: {"name":"convert_units","args":{"value":1},"call_id":"c1"}\r\n\r\n'
    )
    assert result == (
        b'id: r:5\r\nevent: tool_result\r\ndata: {"name":"convert_units","response":{"status":"ok"},"call_id":"c1"}'
        b"\r\n\r\n"
    )


def test_encode_error_is_a_named_event_with_a_human_message() -> None:
    encoded = encode_item(StreamError("quota", "Quota exhausted; retry in 30 s.", True, 30.0), "r:6").encode()

    assert encoded == (
        b'id: r:6\r\nevent: error\r\ndata: {"code":"quota","message":"Quota exhausted; retry in 30 s.",'
        b'"retryable":true,"retry_after":30.0}\r\n\r\n'
    )


def test_encode_done_carries_status_session_and_metrics() -> None:
    encoded = encode_item(Done("completed", "full text", SUMMARY, session_id="s1"), "r:7").encode()

    assert encoded == (
        b'id: r:7\r\nevent: done\r\ndata: {"status":"completed","session_id":"s1","metrics":'
        b'{"time_to_first_chunk":0.25,"total_time":1.0,"chunk_count":4,"char_count":20,'
        b'"chunks_per_second":4.0,"max_gap":0.0}}\r\n\r\n'
    )


def test_encode_end_of_stream_is_the_tutorials_done_marker() -> None:
    assert encode_item(END, "r:8").encode() == b"id: r:8\r\ndata: [DONE]\r\n\r\n"


def test_encode_rejects_what_is_not_an_event() -> None:
    with pytest.raises(TypeError):
        encode_item("text", "r:9")  # type: ignore[arg-type]


def _parse(wire: bytes) -> list[tuple[str, str, str]]:
    """Parses bytes the way httpx-sse does: httpx's line splitting (which, like str.splitlines,
    also breaks at U+2028, U+2029 and NEL), then httpx-sse's decoder."""
    lines = LineDecoder().decode(wire.decode("utf-8"))
    decoder = SSEDecoder()
    events = [decoder.decode(line.rstrip("\n")) for line in lines]
    return [(e.event, e.data, e.id) for e in events if e is not None]


ITEMS = st.one_of(
    st.builds(TextDelta, st.text()),
    st.builds(StreamError, st.text(), st.text()),
    st.builds(ToolCall, st.text(), st.dictionaries(st.text(), st.text() | st.integers())),
    st.just(END),
)


@given(items=st.lists(ITEMS, min_size=1, max_size=8))
def test_encode_any_events_round_trip_through_httpx_sse(items: list[RunItem]) -> None:
    wire = b"".join(encode_item(item, f"run:{n}").encode() for n, item in enumerate(items, 1))

    parsed = _parse(wire)

    assert [event_id for _, _, event_id in parsed] == [f"run:{n}" for n in range(1, len(items) + 1)]
    for (name, data, _), item in zip(parsed, items, strict=True):
        if isinstance(item, EndOfStream):
            assert (name, data) == ("message", "[DONE]")
        else:
            expected_name = "message" if isinstance(item, TextDelta) else item.kind
            assert (name, json.loads(data)) == (expected_name, event_payload(item))
