"""What one streamed answer costs on Streamlit's websocket and in the browser: bytes, visible
updates, the longest main-thread task and the longest gap between updates, with the page
resending the whole text on every update (before issue 13) and only the block still being written."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

from bench.browser import ANSWER_PREFIX, CHUNK_DELAY, CHUNK_SIZE, FIRST_CHUNK_DELAY, chat_tab, decode, demo_in_chromium
from bench.report import Section
from bench.stats import Spread, Target, paired_ratios
from streaming_core.testing.processes import UNLIMITED_QUOTAS
from streaming_core.testing.streamlit_server import StreamlitServer
from ui.context import scripted_text

CHART = "bench-websocket.png"
CHUNKS = 2_000
CHUNK_DELAY_S = 0.001
PARAGRAPHS = "Answer length (paragraphs)"
MESSAGE = "Measure this"
TURN_TIMEOUT_MS = 300_000


@dataclass(frozen=True, slots=True)
class Mode:
    label: str
    rendering: str  # STREAM_RENDERING
    interval: float  # STREAM_UPDATE_INTERVAL_S


BEFORE = Mode("whole text, 0.05 s (before)", "whole", 0.05)
MODES = (BEFORE, Mode("blocks, 0.05 s", "blocks", 0.05), Mode("blocks, 0.033 s", "blocks", 0.033))
DEFAULT = MODES[1]  # the shipped settings (streaming_core/settings.py)
SLOWER = 2  # the "same answer streamed twice as slowly" rows

# Long main-thread tasks (>= 50 ms, Chromium's Long Tasks API) and each growth of the answer's
# visible text, on the page's own clock. textContent, not innerText: reading it forces no layout.
WATCH_PAGE = """(prefix) => {
  window.__longTasks = []; window.__shown = [];
  new PerformanceObserver((list) => {
    for (const task of list.getEntries()) window.__longTasks.push([task.startTime, task.duration]);
  }).observe({type: "longtask"});
  new MutationObserver(() => {
    const messages = document.querySelectorAll('[data-testid="stChatMessageContent"]');
    const last = messages[messages.length - 1];
    if (!last || !last.textContent.slice(0, 200).includes(prefix)) return;
    const length = last.textContent.length, shown = window.__shown;  // growth only: not the cursor going
    if (!shown.length || length > shown[shown.length - 1][1] + 1) shown.push([performance.now(), length]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@dataclass
class Turn:
    mode: Mode
    answer_chars: int
    slower: bool = False
    frames: list[tuple[int, bool]] = field(default_factory=list)  # size, carries the streaming answer
    shown: list[tuple[float, int]] = field(default_factory=list)  # ms, visible text length
    long_tasks: list[tuple[float, float]] = field(default_factory=list)  # start ms, duration ms
    page_offset_ms: float = 0.0  # the page's clock minus ours
    ended_at: float = math.inf  # our clock: the first frame that is not the answer's, i.e. the rerun's
    _streaming: bool | None = None  # None before the answer's first frame, False once it streamed

    def record(self, payload: str | bytes) -> None:
        message = decode(payload)
        element = message.delta.new_element.WhichOneof("type") if message.WhichOneof("type") == "delta" else None
        if self._streaming and element not in ("markdown", "empty"):  # the answer is markdown in st.empty slots
            self._streaming = False
            self.ended_at = time.perf_counter()
        body = message.delta.new_element.markdown.body
        if self._streaming is None and body.startswith(ANSWER_PREFIX):
            self._streaming = True
        self.frames.append((len(payload), bool(self._streaming and body)))

    @property
    def received(self) -> float:
        return sum(size for size, _ in self.frames)

    @property
    def update_bytes(self) -> float:
        return sum(size for size, answer in self.frames if answer)

    @property
    def updates(self) -> list[tuple[float, int]]:
        """Visible changes of the answer while it streams, before the rerun redraws it."""
        end = self.ended_at * 1000 + self.page_offset_ms
        return [(at, length) for at, length in self.shown if at <= end]

    @property
    def stream_s(self) -> float:
        return (self.updates[-1][0] - self.updates[0][0]) / 1000

    @property
    def rate(self) -> float:
        return (len(self.updates) - 1) / self.stream_s if self.stream_s else math.inf

    @property
    def longest_gap_s(self) -> float:
        times = [at for at, _ in self.updates]
        return max((b - a for a, b in pairwise(times)), default=0.0) / 1000

    @property
    def longest_task_s(self) -> float:
        """Longest main-thread task that overlapped the stream; 0 when none reached 50 ms."""
        start, end = self.updates[0][0], self.updates[-1][0]
        overlapping = [length for at, length in self.long_tasks if at <= end and at + length >= start]
        return max(overlapping, default=0.0) / 1000


def _paragraphs(answer_kb: int) -> int:
    """Paragraphs of the scripted demo answer that make it about `answer_kb` KB."""
    target = answer_kb * 1024
    return min(range(1, 401), key=lambda n: abs(len(_answer(n)) - target))


def _answer(paragraphs: int) -> str:
    return scripted_text(paragraphs).replace("{message}", MESSAGE)


def _measure_turn(server: Any, browser: Any, mode: Mode, answer_kb: int, *, slower: bool = False) -> Turn:
    paragraphs = _paragraphs(answer_kb)
    turn = Turn(mode, len(_answer(paragraphs)), slower)
    pacing = {
        CHUNK_SIZE: math.ceil(turn.answer_chars / CHUNKS),
        FIRST_CHUNK_DELAY: 0,
        CHUNK_DELAY: CHUNK_DELAY_S * (SLOWER if slower else 1),
        PARAGRAPHS: paragraphs,
    }
    with chat_tab(server, browser, pacing) as tab:
        tab.page.evaluate(WATCH_PAGE, ANSWER_PREFIX)
        before = time.perf_counter()
        page_now = tab.page.evaluate("performance.now()")
        turn.page_offset_ms = page_now - (before + time.perf_counter()) / 2 * 1000
        tab.socket.on("framereceived", turn.record)  # from here: page load and sidebar are not the answer's
        tab.chat_turn(MESSAGE, TURN_TIMEOUT_MS)
        tab.wait_until_idle()  # the browser has taken in every frame
        turn.shown = [(at, length) for at, length in tab.page.evaluate("window.__shown")]
        turn.long_tasks = [(at, length) for at, length in tab.page.evaluate("window.__longTasks")]
    return turn


def _plot(rows: dict[tuple[Mode, int, bool], list[Turn]], sizes: list[int], path: Path) -> None:
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    sent, task = figure.subplots(1, 2)
    for mode in MODES:
        medians = [Spread.of([t.received / 1e6 for t in rows[mode, size, False]]).median for size in sizes]
        sent.plot(sizes, medians, marker="o", label=mode.label)
        tasks = [Spread.of([t.longest_task_s * 1000 for t in rows[mode, size, False]]).median for size in sizes]
        task.plot(sizes, tasks, marker="o", label=mode.label)
    task.axhline(100, color="grey", linestyle="--", linewidth=1, label="target 100 ms")
    sent.set_title("received by the browser per answer (MB, median)")
    task.set_title("longest main-thread task while streaming (ms, median)")
    for ax in (sent, task):
        ax.set_xlabel(f"answer (KB, in ~{CHUNKS:,} chunks)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    sent.legend()
    task.legend()
    figure.savefig(path, dpi=100)


def measure_websocket_cost(sizes_spec: str, docs: Path, repeats: int = 3) -> Section:
    sizes = sorted({int(part) for part in sizes_spec.split(",") if part.strip()})
    largest = sizes[-1]
    rows: dict[tuple[Mode, int, bool], list[Turn]] = {}
    with _servers() as (browser, servers):
        for _ in range(repeats):  # interleaved, so machine noise hits every row alike
            for mode in MODES:
                for size in sizes:
                    rows.setdefault((mode, size, False), []).append(_measure_turn(servers[mode], browser, mode, size))
            for mode in (BEFORE, DEFAULT):
                turn = _measure_turn(servers[mode], browser, mode, largest, slower=True)
                rows.setdefault((mode, largest, True), []).append(turn)
    _plot(rows, sizes, docs / CHART)
    section = Section(
        title="3. Streamlit websocket cost",
        intro=(
            "A real `streamlit run app.py` (scripted backend) and headless Chromium on the chat page, one server per "
            "mode, the rows interleaved. The scripted answer is the demo's answer with N KB of paragraphs, in "
            f"~{CHUNKS:,} chunks {CHUNK_DELAY_S * 1000:.0f} ms apart ('2× slower': {SLOWER * CHUNK_DELAY_S * 1000:.0f} "
            "ms). Playwright counts every websocket frame the browser receives from sending the message until the "
            "page is idle again: the turn's fixed costs are included (the message shown back, the final renders, "
            "the rerun that redraws the conversation, the page around them). 'Their bytes' are the frames that "
            "carry the answer while it streams. In the page, a MutationObserver times each visible change of the "
            "answer, and Chromium's Long Tasks API reports main-thread tasks of 50 ms or more ('–': none). "
            "'whole text' is `STREAM_RENDERING=whole`: `st.write_stream` redraws one element with all the text so "
            "far; 'blocks' writes each finished markdown block once as its own element and resends only the block "
            "still being written."
        ),
        header=[
            "answer",
            "mode",
            "received",
            "their bytes",
            "visible updates/s",
            "longest gap",
            "longest task",
            "stream time",
        ],
        images=[CHART],
    )
    for (mode, size, slower), turns in sorted(rows.items(), key=lambda item: (item[0][1], item[0][2])):
        section.rows.append(_row(mode, size, slower, turns))
    section.targets += _targets(rows, sizes)
    section.notes += [
        "Whole text: every update carries all the text so far (Streamlit has no append delta), so the cost is "
        "updates × average length: it grows with the answer's length and with its streaming time. Blocks: every "
        "finished block is sent about twice (its last update and its final render) and each update carries one "
        "block, so the cost is about twice the answer plus a small cost per update.",
        "The default update interval (`STREAM_UPDATE_INTERVAL_S=0.05`) is chosen from the 'blocks' rows: 30 "
        "updates a second (0.033 s) tail-only costs far fewer bytes than 20 a second with the whole text (see the "
        "target), but more than 20 a second tail-only, which already shows more visible changes a second than "
        "its update rate (a finished block and the live one land separately).",
    ]
    return section


def _row(mode: Mode, size: int, slower: bool, turns: list[Turn]) -> list[str]:
    def spread(figure: Callable[[Turn], float]) -> Spread:
        return Spread.of([figure(turn) for turn in turns])

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms" if seconds else "–"

    return [
        f"{size} KB" + (f", {SLOWER}× slower" if slower else ""),
        mode.label,
        spread(lambda t: t.received / 1e6).format(lambda mb: f"{mb:.2f} MB"),
        spread(lambda t: t.update_bytes / 1e6).format(lambda mb: f"{mb:.2f} MB"),
        spread(lambda t: t.rate).format(lambda rate: f"{rate:.1f}"),
        spread(lambda t: t.longest_gap_s).format(ms),
        spread(lambda t: t.longest_task_s).format(ms),
        spread(lambda t: t.stream_s).format(lambda s: f"{s:.1f} s"),
    ]


def _targets(rows: dict[tuple[Mode, int, bool], list[Turn]], sizes: list[int]) -> list[Target]:
    largest, smallest = sizes[-1], sizes[0]
    big = rows[DEFAULT, largest, False]
    targets = [
        Target.check(
            f"{largest} KB answer: received at most 3× its size, fixed costs included",
            Spread.of([t.received / t.answer_chars for t in big]),
            3.0,
            "at_most",
            lambda ratio: f"{ratio:.2f}×",
        ),
        Target.check(
            f"longest main-thread task under 100 ms while a {largest} KB answer streams",
            Spread.of([t.longest_task_s * 1000 for t in big]),
            100,
            "at_most",
            lambda value: f"{value:.0f} ms",
        ),
        Target.check(
            f"same {largest} KB answer streamed {SLOWER}× slower: bytes within 1.2×",
            paired_ratios([t.received for t in rows[DEFAULT, largest, True]], [t.received for t in big]),
            1.2,
            "at_most",
            lambda ratio: f"{ratio:.2f}×",
        ),
        Target.check(
            f"30 updates/s with blocks costs fewer bytes than 20/s with the whole text ({largest} KB, ratio)",
            paired_ratios(
                [t.received for t in rows[MODES[2], largest, False]], [t.received for t in rows[BEFORE, largest, False]]
            ),
            1.0,
            "at_most",
            lambda ratio: f"{ratio:.2f}×",
        ),
    ]
    if smallest == 10:
        targets.append(
            Target.check(
                "10 KB answer: received under 0.1 MB",
                Spread.of([t.received for t in rows[DEFAULT, 10, False]]),
                0.1e6,
                "at_most",
                lambda value: f"{value / 1e6:.2f} MB",
            )
        )
    if largest > smallest:
        small = rows[DEFAULT, smallest, False]
        targets.append(
            Target.check(
                f"bytes grow linearly with the answer: bytes per answer byte at {largest} KB / at {smallest} KB "
                "at most 1.5",
                paired_ratios([t.received / t.answer_chars for t in big], [t.received / t.answer_chars for t in small]),
                1.5,
                "at_most",
                lambda ratio: f"{ratio:.2f}×",
            )
        )
    return targets


@contextmanager
def _servers() -> Iterator[tuple[Any, dict[Mode, StreamlitServer]]]:
    """One browser, and a demo server per mode, all up at once so the rows can interleave."""

    def env(mode: Mode) -> dict[str, str]:
        return {"STREAM_RENDERING": mode.rendering, "STREAM_UPDATE_INTERVAL_S": str(mode.interval)}

    first, *others = MODES
    with ExitStack() as stack:
        server, browser = stack.enter_context(demo_in_chromium(**env(first)))
        servers = {first: server}
        for mode in others:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            servers[mode] = stack.enter_context(StreamlitServer(workdir, {**UNLIMITED_QUOTAS, **env(mode)}))
        yield browser, servers
