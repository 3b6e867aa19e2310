"""The metrics strip shown after each stream: time to first chunk, totals, rate, gap chart."""

from __future__ import annotations

import streamlit as st

from streaming_core.metrics import StreamSummary


def format_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def metrics_strip(summary: StreamSummary, *, label: str | None = None) -> None:
    if label:
        st.markdown(f"**{label}**")
    columns = st.columns(5)
    columns[0].metric("Time to first chunk", format_seconds(summary.time_to_first_chunk))
    columns[1].metric("Total time", format_seconds(summary.total_time))
    columns[2].metric("Chunks", f"{summary.chunk_count:,}")
    columns[3].metric("Characters", f"{summary.char_count:,}")
    columns[4].metric("Chunks/s", f"{summary.chunks_per_second:.1f}")
    if summary.gaps:
        st.caption(f"Gaps between chunks (ms); longest {format_seconds(summary.max_gap)}")
        st.bar_chart({"gap (ms)": [gap * 1000 for gap in summary.gaps]}, height=140, y_label="ms")
    else:
        st.caption("One chunk or none: no gaps to chart.")
