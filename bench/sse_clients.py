"""What a benchmark client sends each server for one answer, and how it tells the events apart:
our `/chat/stream` and ADK's `/run_sse`. Both decode every event's JSON, as a real client must."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from httpx_sse import ServerSentEvent

from bench.servers import ADK_APP
from streaming_core.api.encoding import DONE_DATA
from streaming_core.api.requests import USER_HEADER

Kind = Literal["chunk", "end", "error", "other"]


class StreamRequest(NamedTuple):
    method: str
    path: str
    options: dict[str, Any]  # keyword arguments for httpx's request


@dataclass(frozen=True, slots=True)
class Protocol:
    name: str
    request: Callable[[int], StreamRequest]  # the index of the stream -> its request
    kind_of: Callable[[ServerSentEvent], Kind]
    text_of: Callable[[ServerSentEvent], str]  # a chunk event's text
    error_of: Callable[[ServerSentEvent], str]  # an error event's reason, short

    def classify(self, event: ServerSentEvent) -> Kind:
        # httpx-sse dispatches an empty event after a keep-alive comment (it keeps the last
        # id); EventSource would not, so neither does the benchmark.
        return self.kind_of(event) if event.data else "other"


def _ours_request(index: int) -> StreamRequest:
    return StreamRequest("GET", "/chat/stream", {"params": {"query": "go"}, "headers": {USER_HEADER: f"u{index}"}})


def _ours_kind(event: ServerSentEvent) -> Kind:
    if event.data == DONE_DATA:
        return "end"
    payload = json.loads(event.data)
    if event.event == "error":
        return "error"
    return "chunk" if event.event == "message" and payload.get("text") else "other"


def _ours_text(event: ServerSentEvent) -> str:
    return str(json.loads(event.data)["text"])


def _ours_error(event: ServerSentEvent) -> str:
    return str(json.loads(event.data).get("code", ""))


def _adk_request(index: int) -> StreamRequest:
    body = {
        "app_name": ADK_APP,
        "user_id": f"u{index}",
        "session_id": uuid.uuid4().hex,  # created by the request (--auto_create_session), like ours
        "new_message": {"role": "user", "parts": [{"text": "go"}]},
        "streaming": True,
    }
    return StreamRequest("POST", "/run_sse", {"json": body})


def _adk_kind(event: ServerSentEvent) -> Kind:
    payload = json.loads(event.data)
    if "error" in payload:
        return "error"
    parts = (payload.get("content") or {}).get("parts") or []
    if not any(part.get("text") for part in parts):
        return "other"
    return "chunk" if payload.get("partial") else "end"  # the final event repeats the whole answer


def _adk_text(event: ServerSentEvent) -> str:
    parts = (json.loads(event.data).get("content") or {}).get("parts") or []
    return "".join(part.get("text") or "" for part in parts if not part.get("thought"))


def _adk_error(event: ServerSentEvent) -> str:
    return str(json.loads(event.data).get("error", ""))[:60]  # ADK sends the exception's text


OURS = Protocol("our SSE API", _ours_request, _ours_kind, _ours_text, _ours_error)
ADK = Protocol("adk api_server /run_sse", _adk_request, _adk_kind, _adk_text, _adk_error)
