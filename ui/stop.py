"""Where a page lets Streamlit deliver Stop while the model is silent or text is held back."""

from __future__ import annotations

import streamlit as st

_STOP_PROBE_KEY = "_stream_heartbeat"


def check_for_stop() -> None:
    """Lets Streamlit raise Stop or Rerun here; reading session state sends nothing."""
    st.session_state.get(_STOP_PROBE_KEY)
