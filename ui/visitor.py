"""This browser's user id: its visitor cookie (set by app.py's server), so each visitor of a
shared demo sees only their own conversations."""

from __future__ import annotations

import streamlit as st

from streaming_core.visitors import VISITOR_COOKIE, is_valid_user_id, new_user_id

_FALLBACK_KEY = "visitor_id"


def visitor_id() -> str:
    """The cookie's id. Without one (AppTest, cookies blocked, a server started without app.py's
    st.App) a random id for this browser tab's session: never an id shared between visitors."""
    raw = st.context.cookies.get(VISITOR_COOKIE)
    if isinstance(raw, str) and is_valid_user_id(raw):  # AppTest's context gives a mock
        return raw
    if _FALLBACK_KEY not in st.session_state:
        st.session_state[_FALLBACK_KEY] = new_user_id()
    return str(st.session_state[_FALLBACK_KEY])
