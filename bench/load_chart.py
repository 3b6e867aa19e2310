"""The load benchmark's chart: time to first chunk, p99 gap and throughput per level, ours vs ADK."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

if TYPE_CHECKING:
    from bench.load_client import Level

PANELS: list[tuple[str, Callable[[Level], float | None]]] = [
    ("TTFC p50 (ms)", lambda level: _ms(level.ttfc_p(0.5))),
    ("inter-chunk gap p99 (ms)", lambda level: _ms(level.gap_p99())),
    ("throughput (chunks/s)", lambda level: level.throughput),
]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def plot_load(levels: list[Level], path: Path) -> None:
    figure = Figure(figsize=(12, 3.6), layout="constrained")
    axes = figure.subplots(1, len(PANELS))
    servers = list(dict.fromkeys(level.server for level in levels))
    for ax, (label, value) in zip(axes, PANELS, strict=True):
        for server in servers:
            points = [(level.streams, value(level)) for level in levels if level.server == server]
            shown = [(x, y) for x, y in points if y is not None]
            ax.plot([x for x, _ in shown], [y for _, y in shown], marker="o", label=server)
        ax.set_title(label)
        ax.set_xlabel("concurrent streams")
        ax.set_xticks(sorted({level.streams for level in levels}))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend()
    figure.savefig(path, dpi=100)
