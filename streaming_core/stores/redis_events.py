"""A run's events as Redis Stream entries: the wire form (SSE event name and data), so a worker
that replays them sends exactly the bytes the producing worker would have sent."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sse_starlette import ServerSentEvent

from streaming_core.api.encoding import DONE_DATA, RunItem, encode_item


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One logged event; `event` is "" for text chunks and the end marker (unnamed on the wire)."""

    event: str
    data: str

    @classmethod
    def of(cls, item: RunItem) -> StoredEvent:
        encoded = encode_item(item, "")
        return cls(encoded.event or "", str(encoded.data))

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> StoredEvent:
        return cls(fields[b"e"].decode(), fields[b"d"].decode())

    def fields(self) -> dict[str, str]:
        return {"e": self.event, "d": self.data}

    @property
    def is_end(self) -> bool:
        return not self.event and self.data == DONE_DATA

    @property
    def text(self) -> str:
        """The chunk's text; "" for every other event."""
        return str(json.loads(self.data)["text"]) if not self.event and not self.is_end else ""

    def sse(self, event_id: str, retry_ms: int | None) -> ServerSentEvent:
        return ServerSentEvent(self.data, event=self.event or None, id=event_id, retry=retry_ms)
