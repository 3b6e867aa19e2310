"""The core's sync stream on a page: coalesced into st.write_stream, finished markdown blocks
written once and only the live block resent, interruptible, always closed.

Streamlit delivers Stop and reruns only inside Streamlit calls. `st.write_stream` skips empty
pieces without any such call, so a heartbeat (the model is silent) touches session state
instead: that is free, sends nothing, and raises StopException/RerunException when the user
pressed Stop or changed a widget. Closing the bridge generator cancels the model call; the
core then saves the partial answer. After a Stop every Streamlit call raises again, so the
`finally` blocks here never call Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from streaming_core.assistant import DEFAULT_USER
from streaming_core.backends.scripted import ScriptedLlm, ScriptLog
from streaming_core.errors import StreamingCoreError
from streaming_core.events import Done, Heartbeat, Queued, StreamError, StreamEvent, TextDelta, ToolCall, ToolResult
from streaming_core.patterns import Aggregation, Progress, aggregate, coalesce_text, track_progress
from streaming_core.quotas import QuotaExceeded
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import load_settings
from streaming_core.sync_api import call_assistant, stream_turn_sync
from ui.blocks import write_blocks
from ui.quota import quota_key
from ui.stop import check_for_stop

Events: TypeAlias = Iterable[StreamEvent | Heartbeat]
ToolEvent: TypeAlias = ToolCall | ToolResult


@dataclass
class StreamOutcome:
    """What a page needs after a stream: the text shown, the Done event, errors, problems."""

    parts: list[str] = field(default_factory=list)
    done: Done | None = None
    errors: list[StreamError] = field(default_factory=list)
    problem: str | None = None  # the turn could not start: bad input, backend unavailable…
    refusal: QuotaExceeded | None = None  # …or a quota: the problem, with how long to wait
    model_cancelled: bool | None = None  # known for the scripted model only
    queued: Queued | None = None  # the turn waited for the model or the conversation

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def failed(self) -> bool:
        return self.problem is not None or bool(self.errors)

    def record(self, event: StreamEvent) -> None:
        if isinstance(event, Done):
            self.done = event
        elif isinstance(event, Queued):
            self.queued = event
        elif isinstance(event, StreamError):
            self.errors.append(event)


def stream_answer(
    message: str,
    config: AssistantConfig,
    *,
    mode: str = "sse",
    session_id: str | None = None,
    user_id: str = DEFAULT_USER,
    timeout_s: float | None = None,
    through: Callable[[Events], Events] | None = None,
    on_event: Callable[[StreamEvent], None] | None = None,
    on_tool: Callable[[ToolEvent], None] | None = None,
) -> StreamOutcome:
    """Streams one turn into the page with st.write_stream, at most one update per
    STREAM_UPDATE_INTERVAL_S (default 0.05 s: ~20 a second); with STREAM_RENDERING=blocks (the
    default) each update carries only the markdown block still being written.

    `through` wraps the event stream with a pattern (track_progress, fan_out); `on_tool`
    renders tool events between text segments, in the order they happened.
    """
    outcome = StreamOutcome()
    cancelled_before = _cancelled_count(config)
    settings = load_settings()  # the page shell has already validated it
    queue_notice = st.empty()

    def handle(event: StreamEvent) -> None:
        outcome.record(event)
        if isinstance(event, Queued):  # e.g. local Gemma serves another visitor first; gone at the first text
            queue_notice.info(event.message, icon=":material/hourglass_top:")
        if on_event is not None:
            on_event(event)

    limit = settings.turn_timeout_s if timeout_s is None else timeout_s  # a silent model cannot hang a page
    events = stream_turn_sync(
        message, config, session_id=session_id, user_id=user_id, mode=mode, timeout_s=limit, visitor=quota_key()
    )
    source = iter(through(events) if through is not None else events)
    try:
        while True:
            segment = _Segment(source, split_on_tools=on_tool is not None)
            texts = coalesce_text(segment, handle, min_interval=settings.stream_update_interval_s)
            pieces = _pieces(texts, outcome, queue_notice)
            try:
                if settings.stream_rendering == "blocks":
                    write_blocks(pieces)
                else:
                    st.write_stream(pieces)
            finally:
                pieces.close()  # write_stream never closes it, e.g. when Stop hits its own call
            if segment.tool_event is None or on_tool is None:
                break
            handle(segment.tool_event)
            on_tool(segment.tool_event)
    except StreamingCoreError as error:
        outcome.problem = str(error)
        outcome.refusal = error if isinstance(error, QuotaExceeded) else None
    finally:
        _close(source)
        _close(events)
    if cancelled_before is not None:
        outcome.model_cancelled = (_cancelled_count(config) or 0) > cancelled_before
    return outcome


def collect_answer(
    message: str,
    config: AssistantConfig,
    *,
    mode: str = "sse",
    on_progress: Callable[[Progress], None] | None = None,
) -> tuple[Aggregation, StreamOutcome]:
    """The aggregation pattern: drains the whole stream first, Stop still works meanwhile."""
    outcome = StreamOutcome()
    events = stream_turn_sync(message, config, mode=mode, timeout_s=load_settings().turn_timeout_s, visitor=quota_key())
    source: Iterator[StreamEvent | Heartbeat] = _observed(events, outcome)
    if on_progress is not None:
        source = track_progress(source, on_progress)
    result = Aggregation()
    try:
        result = aggregate(source)
    except StreamingCoreError as error:
        outcome.problem = str(error)
        outcome.refusal = error if isinstance(error, QuotaExceeded) else None
    finally:
        _close(source)
        _close(events)
    outcome.parts = list(result.parts)
    return result, outcome


def scripted_log(config: AssistantConfig) -> ScriptLog | None:
    """What the scripted model behind `config` saw and did; None for real models."""
    if config.backend != "scripted":
        return None

    async def read_log(assistant: Any) -> ScriptLog | None:
        model = assistant.agent.model
        return model.log if isinstance(model, ScriptedLlm) else None

    return call_assistant(config, read_log)


def _cancelled_count(config: AssistantConfig) -> int | None:
    log = scripted_log(config)
    return None if log is None else log.cancelled


class _Segment:
    """Events from a shared source up to (not including) the next tool event."""

    def __init__(self, source: Iterator[StreamEvent | Heartbeat], *, split_on_tools: bool) -> None:
        self._source = source
        self._split = split_on_tools
        self.tool_event: ToolEvent | None = None

    def __iter__(self) -> Iterator[StreamEvent | Heartbeat]:
        for event in self._source:  # a plain for-loop: ending the segment leaves the source open
            if self._split and isinstance(event, (ToolCall, ToolResult)):
                self.tool_event = event
                return
            yield event


def _pieces(texts: Iterator[str], outcome: StreamOutcome, queue_notice: DeltaGenerator) -> Generator[str, None, None]:
    try:
        for piece in texts:
            if piece:
                if outcome.queued is not None and not outcome.parts:
                    queue_notice.empty()
                outcome.parts.append(piece)
                yield piece
            else:  # a heartbeat: write_stream would skip it without checking for Stop
                check_for_stop()
    finally:
        _close(texts)


def _observed(events: Events, outcome: StreamOutcome) -> Iterator[StreamEvent | Heartbeat]:
    for event in events:
        check_for_stop()
        if not isinstance(event, (Heartbeat, TextDelta)):
            outcome.record(event)
        yield event


def _close(iterator: object) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
