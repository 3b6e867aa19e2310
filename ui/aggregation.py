"""The aggregation pattern on a page: a live counter while collecting, then text, chunks and checks."""

from __future__ import annotations

import streamlit as st

from streaming_core.patterns import Aggregation, Progress
from streaming_core.runtime import AssistantConfig
from ui.live import Throttle
from ui.metrics import metrics_strip
from ui.outcome import show_outcome
from ui.streaming import StreamOutcome, collect_answer


def collect_with_status(message: str, config: AssistantConfig, *, mode: str) -> tuple[Aggregation, StreamOutcome]:
    status = st.status("Collecting chunks…", expanded=False)
    throttle = Throttle(0.1)

    def on_progress(progress: Progress) -> None:
        if throttle.ready():
            status.update(label=f"Collecting chunks… {progress.chunks:,} chunks, {progress.chars:,} characters")

    result, outcome = collect_answer(message, config, mode=mode, on_progress=on_progress)
    total = result.done.metrics.total_time if result.done else 0.0
    status.update(
        label=f"Collected {len(result.chunks):,} chunks in {total:.2f} s",
        state="error" if outcome.failed else "complete",
    )
    return result, outcome


def show_aggregation(result: Aggregation, outcome: StreamOutcome) -> None:
    st.subheader("Complete text")
    with st.container(border=True):
        st.markdown(result.text or "_(no text)_")
    show_outcome(outcome, metrics=False)
    done = result.done
    if done is None:
        return
    if done.matches_final is True and result.text == done.text:
        st.success(
            f"The {len(result.chunks):,} joined chunks equal ADK's final aggregated event "
            f"({len(result.text):,} characters).",
            icon=":material/check_circle:",
        )
    elif done.matches_final is None:
        st.info("No final aggregated event arrived (the stream was cut short), so there is nothing to compare.")
    else:
        st.error("The joined chunks differ from ADK's final event; the page kept the streamed chunks.")
    sizes = [chunk.size for chunk in result.chunks]
    st.subheader("Chunks")
    columns = st.columns(4)
    columns[0].metric("Chunks", f"{len(sizes):,}")
    columns[1].metric("Characters", f"{sum(sizes):,}")
    columns[2].metric("Mean chunk", f"{sum(sizes) / len(sizes):.1f} chars" if sizes else "–")
    columns[3].metric("Largest chunk", f"{max(sizes, default=0):,} chars")
    st.dataframe(
        {
            "index": [chunk.index for chunk in result.chunks],
            "size (chars)": sizes,
            "arrival (ms)": [round(chunk.at * 1000, 1) for chunk in result.chunks],
        },
        hide_index=True,
        height=240,
    )
    metrics_strip(done.metrics)
