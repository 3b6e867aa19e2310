"""The typed stream every consumer reads: frozen dataclasses with stable wire names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias

from streaming_core.metrics import StreamSummary

DoneStatus: TypeAlias = Literal["completed", "error", "timeout"]
# model_busy: a model that answers one request at a time (local Gemma) is busy; conversation_busy:
# another tab or client is answering in the same conversation.
QueueReason: TypeAlias = Literal["model_busy", "conversation_busy"]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """New answer text. Joining every delta of a turn gives the answer exactly once."""

    kind: ClassVar[str] = "chunk"
    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    kind: ClassVar[str] = "tool_call"
    name: str
    args: dict[str, Any]
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    kind: ClassVar[str] = "tool_result"
    name: str
    response: dict[str, Any]
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class StreamError:
    """A failure inside the stream. `message` is for people and never holds a traceback."""

    kind: ClassVar[str] = "error"
    code: str
    message: str
    retryable: bool = False
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Queued:
    """The turn waits its turn before reaching the model; sent before any text."""

    kind: ClassVar[str] = "queued"
    reason: QueueReason
    message: str
    ahead: int  # turns that run before this one


@dataclass(frozen=True, slots=True)
class Done:
    """Always the last event of a turn, whatever happened before it."""

    kind: ClassVar[str] = "done"
    status: DoneStatus
    text: str
    metrics: StreamSummary
    session_id: str | None = None
    # Whether the joined deltas equal ADK's final aggregated event (None: no final event seen).
    matches_final: bool | None = None
    tool_calls: tuple[ToolCall, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Emitted by the sync bridge while the model is silent, so the consumer can react (Stop)."""

    kind: ClassVar[str] = "heartbeat"


StreamEvent: TypeAlias = TextDelta | ToolCall | ToolResult | StreamError | Queued | Done
