"""What one streamed answer costs on Streamlit's websocket: bytes, messages and text updates the
browser receives, with the page's coalescing (STREAM_UPDATE_INTERVAL_S=0.05) and without it (0)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

from bench.browser import ANSWER_PREFIX, CHUNK_DELAY, CHUNK_SIZE, FIRST_CHUNK_DELAY, chat_tab, decode, demo_in_chromium
from bench.report import Section
from bench.stats import Spread, Target
from streaming_core.backends.scripted import DEFAULT_TEXT

CHART = "bench-websocket.png"
CHUNKS = 2_000
CHUNK_DELAY_S = 0.001
MODES = {"coalesced (0.05 s)": "0.05", "every chunk (0)": "0"}  # label -> STREAM_UPDATE_INTERVAL_S
FILLER = "lorem ipsum dolor sit amet "
TURN_TIMEOUT_MS = 600_000  # un-coalesced 100 KB pushes tens of MB through the browser


@dataclass
class Frame:
    at: float  # perf_counter when Playwright delivered it
    size: int
    answer_chars: int | None  # set when the frame redraws the answer: the length it shows


@dataclass
class TurnTraffic:
    mode: str
    answer_chars: int
    frames: list[Frame] = field(default_factory=list)

    def record(self, payload: str | bytes) -> None:
        body = decode(payload).delta.new_element.markdown.body
        shown = len(body) if body.startswith(ANSWER_PREFIX) else None
        self.frames.append(Frame(time.perf_counter(), len(payload), shown))

    @property
    def received(self) -> int:
        return sum(frame.size for frame in self.frames)

    @property
    def updates(self) -> list[Frame]:
        """Redraws of the answer while it streams: up to the first that shows all of it (later
        ones are write_stream's final render and the chat's rerun)."""
        shown = [frame for frame in self.frames if frame.answer_chars is not None]
        complete = next((i for i, frame in enumerate(shown) if frame.answer_chars == self.answer_chars), None)
        if complete is None:
            raise RuntimeError(f"no frame showed the whole {self.answer_chars}-character answer")
        return shown[: complete + 1]

    @property
    def stream_s(self) -> float:
        return self.updates[-1].at - self.updates[0].at

    @property
    def rate(self) -> float:
        return (len(self.updates) - 1) / self.stream_s if self.stream_s else math.inf


def _message(answer_chars: int) -> str:
    """The chat message that makes the scripted answer exactly `answer_chars` long: the default
    answer echoes it in place of `{message}`."""
    length = answer_chars - (len(DEFAULT_TEXT) - len("{message}"))
    return (FILLER * (length // len(FILLER) + 1))[:length]


def _measure_turn(server: Any, browser: Any, mode: str, answer_chars: int) -> TurnTraffic:
    traffic = TurnTraffic(mode, answer_chars)
    pacing = {CHUNK_SIZE: math.ceil(answer_chars / CHUNKS), FIRST_CHUNK_DELAY: 0, CHUNK_DELAY: CHUNK_DELAY_S}
    with chat_tab(server, browser, pacing) as tab:
        tab.socket.on("framereceived", traffic.record)  # from here: page load and sidebar are not the answer's
        tab.chat_turn(_message(answer_chars), TURN_TIMEOUT_MS)
        tab.wait_until_idle()  # the browser has taken in every frame
    return traffic


def _plot(turns: list[TurnTraffic], path: Path) -> None:
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    sent, rate = figure.subplots(1, 2)
    for mode in MODES:
        shown = [turn for turn in turns if turn.mode == mode]
        sizes = [turn.answer_chars / 1024 for turn in shown]
        sent.plot(sizes, [turn.received / 1e6 for turn in shown], marker="o", label=mode)
        rate.plot(sizes, [turn.rate for turn in shown], marker="o", label=mode)
    rate.axhline(20, color="grey", linestyle="--", linewidth=1, label="target ~20/s")
    sent.set_title("received by the browser per answer (MB)")
    rate.set_title("text updates per second while streaming")
    for ax in (sent, rate):
        ax.set_xlabel(f"answer (KB, in ~{CHUNKS:,} chunks)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    sent.legend()
    rate.legend()
    figure.savefig(path, dpi=100)


def measure_websocket_cost(sizes_spec: str, docs: Path) -> Section:
    sizes = sorted({int(part) for part in sizes_spec.split(",") if part.strip()})
    turns: list[TurnTraffic] = []
    for mode, interval in MODES.items():
        env = {"STREAM_UPDATE_INTERVAL_S": interval, "MAX_MESSAGE_CHARS": str(max(sizes) * 1024)}
        with demo_in_chromium(**env) as (server, browser):
            turns += [_measure_turn(server, browser, mode, size * 1024) for size in sizes]
    turns.sort(key=lambda turn: turn.answer_chars)
    _plot(turns, docs / CHART)
    section = Section(
        title="3. Streamlit websocket cost",
        intro=(
            "A real `streamlit run app.py` (scripted backend) and headless Chromium on the chat page. The scripted "
            f"answer is exactly N KB in ~{CHUNKS:,} chunks, {CHUNK_DELAY_S * 1000:.0f} ms apart (the chat message "
            "pads the answer, which echoes it). Playwright counts every websocket frame the browser receives from "
            "sending the message until the page is idle again; frames are decoded as Streamlit `ForwardMsg`s to "
            "find the redraws of the answer while it streams ('text updates'). Totals also include the turn's fixed "
            "costs: the message shown back, write_stream's final render, the rerun that redraws the conversation, "
            "and the page around them. "
            "'every chunk' is `STREAM_UPDATE_INTERVAL_S=0`: each chunk goes to `st.write_stream` on its own."
        ),
        header=["answer", "mode", "messages", "received", "text updates", "their bytes", "updates/s", "stream time"],
        images=[CHART],
    )
    for turn in turns:
        section.rows.append(
            [
                f"{turn.answer_chars // 1024} KB",
                turn.mode,
                f"{len(turn.frames):,}",
                f"{turn.received / 1e6:.2f} MB",
                f"{len(turn.updates):,}",
                f"{sum(frame.size for frame in turn.updates) / 1e6:.2f} MB",
                f"{turn.rate:.1f}",
                f"{turn.stream_s:.1f} s",
            ]
        )
    coalesced = [turn for turn in turns if turn.mode == next(iter(MODES))]
    ten_kb = next((turn for turn in coalesced if turn.answer_chars == 10 * 1024), None)
    if ten_kb is not None:
        received = Spread.of([ten_kb.received / 1e6])
        section.targets.append(Target.check("10 KB coalesced under 0.5 MB", received, 0.5, "at_most", _mb))
    # Every coalesced answer, judged whole; 10% over 20/s allows for Playwright's delivery jitter on the timestamps.
    rates = Spread.of([turn.rate for turn in coalesced])
    section.targets.append(Target.check("at most ~20 updates/s coalesced (≤ 22)", rates, 22, "at_most", _per_s))
    if len(coalesced) > 1:
        small, large = coalesced[0], coalesced[-1]
        growth = (large.received / large.answer_chars) / (small.received / small.answer_chars)
        section.targets.append(
            Target.counted(
                f"coalesced cost grows linearly with the answer: bytes per answer byte at {large.answer_chars // 1024} "
                f"KB within 0.67–1.5× those at {small.answer_chars // 1024} KB (measured {growth:.2f}×)",
                0.67 <= growth <= 1.5,
            )
        )
    section.notes += [
        "One turn per row. Bytes and updates are counts, judged as measured; the rate is wall time as the browser "
        "received the frames, judged over every coalesced answer.",
        "Every update carries the whole text so far: `st.write_stream` redraws one markdown element and Streamlit "
        "has no append delta. So the cost is updates × average length, i.e. rate × stream time × length / 2: "
        "linear in the answer's length for a given stream time, and linear in the stream time too (the same answer "
        "streamed twice as slowly costs about twice as much).",
        "'Every chunk' is not 2,000 updates: Streamlit's ForwardMsgQueue merges deltas for the same element that "
        "arrive between two flushes of its runtime loop (every ~5 ms, `MESSAGE_FLUSH_INTERVAL_SECS`), so "
        "un-coalesced traffic is bounded by how often Streamlit flushes and by how fast the script thread can "
        "serialize the growing text, not by the chunk count. The ~10 MB estimate (2,000 × 5 KB) is that upper "
        "bound; the rows show what actually went out.",
    ]
    largest = [turn for turn in turns if turn.answer_chars == turns[-1].answer_chars]
    if len(largest) == len(MODES):
        section.notes.append(
            f"Un-coalesced, the stream itself slows down: at {largest[0].answer_chars // 1024} KB it took "
            + " vs ".join(f"{turn.stream_s:.1f} s {turn.mode}" for turn in largest)
            + ", because the script thread re-serializes the growing text for every update it hands to Streamlit."
        )
    return section


def _mb(value: float) -> str:
    return f"{value:.2f} MB"


def _per_s(value: float) -> str:
    return f"{value:.1f}/s"
