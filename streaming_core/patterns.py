"""The tutorial's streaming patterns as reusable functions over the typed stream.

Each works on any iterable of events (the sync stream from the bridge, or a list in a test)
and passes events through unchanged, so patterns compose: `fan_out(track_progress(s, cb), outs)`.
The timeout pattern lives in `Turn.events(timeout_s=...)`, where it can cancel the model call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from streaming_core.events import Done, Heartbeat, StreamEvent, TextDelta
from streaming_core.metrics import Clock

logger = logging.getLogger(__name__)

Output = Callable[[StreamEvent], None]


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    index: int
    size: int
    at: float  # seconds since the stream started


@dataclass
class Aggregation:
    """The complete text, every chunk, and the Done event once the stream ends."""

    chunks: list[ChunkRecord] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    done: Done | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


def aggregate(events: Iterable[StreamEvent | Heartbeat], clock: Clock = time.perf_counter) -> Aggregation:
    """Drains the stream, keeping each chunk with its size and arrival time."""
    result = Aggregation()
    start = clock()
    for event in events:
        if isinstance(event, TextDelta):
            result.chunks.append(ChunkRecord(len(result.chunks), len(event.text), clock() - start))
            result.parts.append(event.text)
        elif isinstance(event, Done):
            result.done = event
    return result


@dataclass(frozen=True, slots=True)
class Progress:
    chunks: int
    chars: int
    elapsed: float

    @property
    def chars_per_second(self) -> float:
        return self.chars / self.elapsed if self.elapsed > 0 else 0.0


def track_progress(
    events: Iterable[StreamEvent | Heartbeat],
    on_progress: Callable[[Progress], None],
    clock: Clock = time.perf_counter,
) -> Iterator[StreamEvent | Heartbeat]:
    """Calls `on_progress` after every chunk and on every heartbeat (elapsed time moves on)."""
    start, chunks, chars = clock(), 0, 0
    for event in events:
        if isinstance(event, TextDelta):
            chunks, chars = chunks + 1, chars + len(event.text)
        if isinstance(event, (TextDelta, Heartbeat)):
            on_progress(Progress(chunks, chars, clock() - start))
        yield event


@dataclass
class FanOutReport:
    failures: dict[str, str] = field(default_factory=dict)


def fan_out(
    events: Iterable[StreamEvent | Heartbeat], outputs: Mapping[str, Output], report: FanOutReport
) -> Iterator[StreamEvent | Heartbeat]:
    """Sends each event to every output. An output that raises is reported in `report` and
    dropped; the stream and the other outputs carry on."""
    live = dict(outputs)
    for event in events:
        if not isinstance(event, Heartbeat):
            for name, output in list(live.items()):
                try:
                    output(event)
                except Exception as error:  # an output's failure must not end the stream
                    logger.warning("output %s failed: %s", name, error)
                    report.failures[name] = f"{type(error).__name__}: {error}"
                    del live[name]
        yield event


def coalesce_text(
    events: Iterable[StreamEvent | Heartbeat],
    on_event: Callable[[StreamEvent], None],
    *,
    min_interval: float = 0.05,
    clock: Clock = time.perf_counter,
) -> Iterator[str]:
    """Text for `st.write_stream`, at most one piece per `min_interval` seconds.

    write_stream resends the whole text so far on every piece, so 2,000 tiny chunks of a
    10 KB answer would cost ~10 MB on the websocket; batching bounds that. Heartbeats become
    empty strings so the script thread keeps regaining control while the model is silent.
    Every non-text event goes to `on_event`.
    """
    pending: list[str] = []
    last_flush = float("-inf")
    for event in events:
        if isinstance(event, TextDelta):
            pending.append(event.text)
        elif isinstance(event, Heartbeat):
            pass
        else:
            on_event(event)
        now = clock()
        if pending and now - last_flush >= min_interval:
            yield "".join(pending)
            pending.clear()
            last_flush = now
        elif isinstance(event, Heartbeat):
            yield ""
    if pending:
        yield "".join(pending)
