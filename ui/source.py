"""The exact source of the core functions a page runs (via inspect, so it cannot drift)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import streamlit as st


def show_source(*objects: Callable[..., Any] | type, adk_note: str | None = None) -> None:
    """A short "real ADK vs the tutorial" note, then the source of each object."""
    st.divider()
    if adk_note:
        st.markdown(f"**Real ADK vs the tutorial.** {adk_note}")
    with st.expander("The streaming_core code this page runs"):
        for obj in objects:
            st.caption(f"`{obj.__module__}.{obj.__qualname__}`")
            st.code(inspect.getsource(obj), language="python")
