"""After a stream: its errors as clear messages (never a traceback), then the metrics strip."""

from __future__ import annotations

import streamlit as st

from streaming_core.events import StreamError
from ui.metrics import metrics_strip
from ui.quota import show_refusal
from ui.streaming import StreamOutcome

_QUOTA_HELP = (
    "The model provider refused the call: quota or rate limit exhausted (HTTP 429, "
    "RESOURCE_EXHAUSTED). Wait and retry, or switch backend in the sidebar."
)


def show_stream_error(error: StreamError, *, partial: bool) -> None:
    kept = " The partial answer above is kept." if partial and error.code != "timeout" else ""
    if error.code == "timeout":
        st.warning(error.message, icon=":material/timer_off:")
    elif error.code == "quota":
        wait = f" Retry after {error.retry_after:.0f} s." if error.retry_after else ""
        st.error(f"{error.message}{kept}\n\n{_QUOTA_HELP}{wait}", icon=":material/block:")
    else:
        st.error(f"{error.message}{kept}", icon=":material/error:")


def show_outcome(outcome: StreamOutcome, *, metrics: bool = True) -> None:
    if outcome.refusal is not None:
        show_refusal(outcome.refusal)
        return
    if outcome.problem is not None:
        st.error(outcome.problem, icon=":material/error:")
        return
    for error in outcome.errors:
        show_stream_error(error, partial=bool(outcome.text))
    if outcome.model_cancelled:
        st.caption("The model call was cancelled: the scripted model recorded the cancellation.")
    if metrics and outcome.done is not None:
        metrics_strip(outcome.done.metrics)
