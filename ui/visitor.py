"""This browser's user id: its visitor cookie (set by app.py's server), so each visitor of a
shared demo sees only their own conversations."""

from __future__ import annotations

import streamlit as st

from streaming_core.assistant import DEFAULT_USER
from streaming_core.visitors import VISITOR_COOKIE, is_valid_user_id


def visitor_id() -> str:
    """The cookie's id; DEFAULT_USER without one (AppTest, or a server started without app.py's
    st.App, which is what sets the cookie)."""
    raw = st.context.cookies.get(VISITOR_COOKIE)
    return raw if isinstance(raw, str) and is_valid_user_id(raw) else DEFAULT_USER  # AppTest gives a mock
