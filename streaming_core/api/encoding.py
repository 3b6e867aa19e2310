"""Typed stream events -> SSE events, in the wire format the tutorial's EventSource client reads.

Text chunks are unnamed events (`data: {"text": ...}`) so `onmessage` sees them; tool calls,
tool results, queue notices, errors and the end are named events that `onmessage` ignores; the stream ends
with `data: [DONE]`. Pure functions: no I/O, tested byte for byte.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from sse_starlette import ServerSentEvent

from streaming_core.events import Done, Queued, StreamError, StreamEvent, TextDelta, ToolCall, ToolResult

DONE_DATA = "[DONE]"


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The `data: [DONE]` marker after a run's Done event; nothing follows it."""

    kind: ClassVar[str] = "end"


END = EndOfStream()

RunItem: TypeAlias = StreamEvent | EndOfStream


def event_payload(event: StreamEvent) -> dict[str, Any]:
    """The JSON object an event carries on the wire."""
    if isinstance(event, TextDelta):
        return {"text": event.text}
    if isinstance(event, ToolCall):
        return {"name": event.name, "args": event.args, "call_id": event.call_id}
    if isinstance(event, ToolResult):
        return {"name": event.name, "response": event.response, "call_id": event.call_id}
    if isinstance(event, StreamError):
        return {
            "code": event.code,
            "message": event.message,
            "retryable": event.retryable,
            "retry_after": event.retry_after,
        }
    if isinstance(event, Queued):
        return {"reason": event.reason, "message": event.message, "ahead": event.ahead}
    if isinstance(event, Done):
        return {"status": event.status, "session_id": event.session_id, "metrics": event.metrics.as_dict()}
    raise TypeError(f"not a stream event: {event!r}")


def encode_item(item: RunItem, event_id: str, *, retry_ms: int | None = None) -> ServerSentEvent:
    """One SSE event. Chunks stay unnamed: a named event would never reach `onmessage`."""
    if isinstance(item, EndOfStream):
        return ServerSentEvent(DONE_DATA, id=event_id, retry=retry_ms)
    data = _json(event_payload(item))
    name = None if isinstance(item, TextDelta) else item.kind
    return ServerSentEvent(data, event=name, id=event_id, retry=retry_ms)


def _json(payload: dict[str, Any]) -> str:
    # JSON escapes CR and LF, so every payload is one `data:` line whatever the model wrote,
    # and a text that looks like `data: [DONE]` stays inside its JSON string. NEL, LS and PS
    # are escaped too: httpx (so httpx-sse) splits lines the way str.splitlines() does; so are
    # lone surrogates, which cannot be encoded as UTF-8.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    return _MUST_ESCAPE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


_MUST_ESCAPE = re.compile("[\x85\u2028\u2029\ud800-\udfff]")
