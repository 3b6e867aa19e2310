"""The multi-output pattern's outputs: transcript file, log pane, JSON-lines event log, and one
that breaks on purpose to show that the others keep going."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import streamlit as st

from streaming_core.api.encoding import event_payload
from streaming_core.events import Done, Heartbeat, StreamEvent, TextDelta
from streaming_core.patterns import FanOutReport, Output, fan_out
from ui.live import Throttle
from ui.streaming import Events


class Transcript:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def __call__(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            self.parts.append(event.text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class JsonLinesLog:
    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.lines: list[str] = []

    def __call__(self, event: StreamEvent) -> None:
        # The SSE API's payload, so a logged event reads as it would on the wire.
        record = {"t": round(time.perf_counter() - self._start, 4), "kind": event.kind, **event_payload(event)}
        self.lines.append(json.dumps(record, ensure_ascii=False, default=str))

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n" if self.lines else ""


class LogPane:
    """A live, human-readable log of the last few events."""

    def __init__(self, *, keep: int = 12, interval: float = 0.1) -> None:
        self._placeholder = st.empty()
        self._start = time.perf_counter()
        self._lines: list[str] = []
        self._keep = keep
        self._throttle = Throttle(interval)

    def __call__(self, event: StreamEvent) -> None:
        self._lines.append(f"{time.perf_counter() - self._start:7.3f}s  {_describe(event)}")
        del self._lines[: -self._keep]
        if self._throttle.ready() or isinstance(event, Done):
            self._placeholder.code("\n".join(self._lines), language=None)


class BrokenOutput:
    """Raises on its `fail_at`-th chunk, like a full disk or a closed socket."""

    def __init__(self, fail_at: int = 5) -> None:
        self._fail_at = fail_at
        self._chunks = 0

    def __call__(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            self._chunks += 1
            if self._chunks == self._fail_at:
                raise OSError(f"simulated write failure on chunk {self._chunks}")


class MultiOutput:
    """One stream fanned out to every output; the page itself reads what fan_out passes on."""

    def __init__(self, log_pane: LogPane, *, broken: bool) -> None:
        self.transcript = Transcript()
        self.events = JsonLinesLog()
        self.report = FanOutReport()
        self.outputs: dict[str, Output] = {
            "transcript": self.transcript,
            "log pane": log_pane,
            "JSON-lines log": self.events,
        }
        if broken:
            self.outputs["broken output"] = BrokenOutput()

    def through(self, events: Events) -> Iterator[StreamEvent | Heartbeat]:
        return fan_out(events, self.outputs, self.report)

    def show(self) -> None:
        for name, failure in self.report.failures.items():
            st.warning(f"Output **{name}** failed and was dropped ({failure}); the other outputs kept going.")
        kept = [name for name in self.outputs if name not in self.report.failures]
        st.caption("Outputs that received the whole stream: " + ", ".join(kept))
        left, right = st.columns(2)
        left.download_button(
            "Download transcript",
            self.transcript.text,
            file_name="transcript.md",
            mime="text/markdown",
            icon=":material/download:",
            on_click="ignore",
        )
        right.download_button(
            "Download event log (JSON lines)",
            self.events.text,
            file_name="events.jsonl",
            mime="application/jsonl",
            icon=":material/download:",
            on_click="ignore",
        )
        st.caption("JSON-lines event log")
        st.code(self.events.text, language="json", height=240)


def _describe(event: StreamEvent) -> str:
    if isinstance(event, TextDelta):
        return f"chunk  {len(event.text):>4} chars"
    if isinstance(event, Done):
        return f"done   {event.status}, {event.metrics.chunk_count} chunks"
    return f"{event.kind:<6} {json.dumps(event_payload(event), default=str)[:80]}"
