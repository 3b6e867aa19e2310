"""The Redis run store's pure parts: events in wire form, and the text a lost worker had streamed."""

from __future__ import annotations

from streaming_core.api.encoding import END, encode_item
from streaming_core.events import StreamError, TextDelta, ToolCall
from streaming_core.stores.redis_events import StoredEvent
from streaming_core.stores.redis_keys import seq_of
from streaming_core.stores.worker_lease import partial_text


def test_a_stored_event_replays_the_bytes_the_producer_would_have_sent() -> None:
    for item in (TextDelta("line\nbreak \u2028"), StreamError("store", "down", retryable=True), END):
        stored = StoredEvent.from_fields({k.encode(): v.encode() for k, v in StoredEvent.of(item).fields().items()})

        assert stored.sse("run:3", 1000).encode() == encode_item(item, "run:3", retry_ms=1000).encode()
    assert StoredEvent.of(END).is_end and not StoredEvent.of(TextDelta("[DONE]")).is_end


def test_partial_text_is_what_streamed_since_the_last_saved_model_response() -> None:
    items = [TextDelta("Let me check. "), ToolCall("convert_units", {}), TextDelta("It is "), TextDelta("1000 m")]

    assert partial_text([StoredEvent.of(item) for item in items]) == "It is 1000 m"
    assert partial_text([]) == ""


def test_entry_ids_carry_the_sequence_number() -> None:
    assert seq_of(b"42-0") == 42 and seq_of("7-0") == 7
