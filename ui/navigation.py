"""The demo's pages: the router's menu and the home page's cards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
from streamlit.navigation.page import StreamlitPage


@dataclass(frozen=True, slots=True)
class PageSpec:
    path: str
    title: str
    icon: str
    blurb: str


MAIN_SCRIPT = "app.py"
PATTERNS = (
    PageSpec("pages/1_basic_streaming.py", "Basic streaming", ":material/bolt:", "SSE and NONE side by side, measured"),
    PageSpec("pages/2_chat.py", "Chat", ":material/chat:", "Memory in ADK sessions (SQLite), Stop, history"),
    PageSpec("pages/3_aggregation.py", "Aggregation", ":material/stacks:", "Every chunk, then the whole text, checked"),
    PageSpec("pages/4_progress.py", "Progress", ":material/speed:", "Live counter, elapsed time and rate chart"),
    PageSpec("pages/5_multi_output.py", "Multi-output", ":material/call_split:", "One stream, four outputs"),
    PageSpec("pages/6_timeout.py", "Timeout", ":material/timer:", "A deadline that keeps the partial answer"),
    PageSpec("pages/7_tools.py", "Tools", ":material/build:", "Function tools as a timeline between text"),
    PageSpec("pages/8_errors.py", "Errors", ":material/error:", "Injected faults, clear messages, Retry"),
    PageSpec("pages/9_sse_api.py", "SSE API", ":material/api:", "Calling the project's SSE endpoint"),
)


def home_page(render: Callable[[], None]) -> StreamlitPage:
    return st.Page(render, title="Home", icon=":material/home:", default=True)


def navigation(home: StreamlitPage) -> StreamlitPage:
    """Registers the pages (URLs, titles) and returns the one the URL asks for. The menu itself is
    `render_menu`, so it looks the same when Streamlit runs a page without the router."""
    patterns = [st.Page(spec.path, title=spec.title, icon=spec.icon) for spec in PATTERNS]
    return st.navigation([home, *patterns], position="hidden")


def render_menu(home: StreamlitPage | str) -> None:
    """`home` is the router's home page, or the entry script when a page runs without the router
    (a link to it runs the router, which from then on handles every page)."""
    st.page_link(home, label="Home", icon=":material/home:")
    st.caption("Patterns")
    for spec in PATTERNS[:-1]:
        st.page_link(spec.path, label=spec.title, icon=spec.icon)
    st.caption("API")
    spec = PATTERNS[-1]
    st.page_link(spec.path, label=spec.title, icon=spec.icon)
