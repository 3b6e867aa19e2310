"""Live widgets fed from inside a stream, redrawn at most a few times a second."""

from __future__ import annotations

import time
from collections.abc import Iterator

import streamlit as st

from streaming_core.events import Heartbeat, StreamEvent
from streaming_core.patterns import Progress, track_progress
from ui.metrics import format_seconds
from ui.streaming import Events


class Throttle:
    """True at most once per `interval` seconds: every redraw resends its element."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last = float("-inf")

    def ready(self) -> bool:
        now = time.perf_counter()
        if now - self._last < self._interval:
            return False
        self._last = now
        return True


class LiveProgress:
    """Chunk counter, characters, elapsed time and a chars/s chart, updated while streaming."""

    def __init__(self, interval: float = 0.2) -> None:
        self._numbers = st.empty()
        self._chart = st.empty()
        self._throttle = Throttle(interval)
        self._samples: list[Progress] = [Progress(0, 0, 0.0)]
        self._latest = self._samples[0]
        self._rates: dict[str, list[float]] = {"elapsed (s)": [], "chars/s": []}

    def through(self, events: Events) -> Iterator[StreamEvent | Heartbeat]:
        return track_progress(events, self.update)

    def update(self, progress: Progress) -> None:
        self._latest = progress
        if self._throttle.ready():
            self._draw(progress)

    def finish(self) -> None:
        """Draws the last figures, which a throttled update may have skipped."""
        self._draw(self._latest, final=True)

    def _draw(self, progress: Progress, *, final: bool = False) -> None:
        previous = self._samples[-1]
        if progress.elapsed > previous.elapsed:
            rate = (progress.chars - previous.chars) / (progress.elapsed - previous.elapsed)
            self._rates["elapsed (s)"].append(round(progress.elapsed, 2))
            self._rates["chars/s"].append(round(rate, 1))
            self._samples.append(progress)
        with self._numbers.container():
            columns = st.columns(4)
            columns[0].metric("Chunks", f"{progress.chunks:,}")
            columns[1].metric("Characters", f"{progress.chars:,}")
            columns[2].metric("Elapsed", format_seconds(progress.elapsed))
            columns[3].metric("Average chars/s", f"{progress.chars_per_second:,.0f}")
        if self._rates["chars/s"]:
            title = "Rate over the stream (chars/s)" if final else "Rate right now (chars/s)"
            with self._chart.container():
                st.caption(title)
                st.line_chart(self._rates, x="elapsed (s)", y="chars/s", height=180)
