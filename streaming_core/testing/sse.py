"""Reading an SSE response to its end with httpx-sse, as a client of our API does."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse


@dataclass
class SseReply:
    """One SSE response read to its end: the events, when each arrived, and the headers."""

    status_code: int
    headers: httpx.Headers
    events: list[ServerSentEvent] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The answer as the tutorial's client builds it: unnamed events before [DONE]. (httpx-sse
        reports a keep-alive comment as an empty message; browsers ignore it.)"""
        chunks = [e for e in self.events if e.event == "message" and e.data not in ("", "[DONE]")]
        return "".join(json.loads(e.data)["text"] for e in chunks)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(e.data) for e in self.events if e.event == name]


async def read_sse(
    client: httpx.AsyncClient, method: str, url: str, *, limit: int | None = None, **kwargs: Any
) -> SseReply:
    """Reads an SSE response until it ends, or until `limit` events then hangs up."""
    async with aconnect_sse(client, method, url, **kwargs) as source:
        reply = SseReply(source.response.status_code, source.response.headers)
        if source.response.status_code != 200:
            await source.response.aread()
            return reply
        async for event in source.aiter_sse():
            reply.events.append(event)
            reply.arrivals.append(time.monotonic())
            if limit is not None and len(reply.events) >= limit:
                break
        return reply
