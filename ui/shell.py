"""Page set-up shared by the router and every page: page config, the sidebar, title and caption.

The router renders the sidebar once per run, before the page, so its widgets keep their values
across pages. A page can also run on its own: while no run has called st.navigation yet (the
first session after a start that deep-links to a page, and every AppTest run of a page),
Streamlit runs a file in `pages/` directly, and `setup_page` renders the sidebar itself.
(Registering the navigation and rerunning instead would drop the widget values, such as a
submitted chat message, that arrived with the direct run.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from streaming_core.errors import ConfigurationError
from streaming_core.quotas import load_quota_limits
from streaming_core.settings import load_settings
from ui.context import PageContext
from ui.navigation import MAIN_SCRIPT
from ui.sidebar import render_sidebar

_run = threading.local()  # the script thread's current run; pages execute on the same thread


def _render_shell(home: StreamlitPage | str) -> PageContext:
    # No page_title: st.navigation titles each browser tab after its page.
    st.set_page_config(page_icon=":material/stream:", layout="wide")
    try:
        settings = load_settings()
        load_quota_limits()  # checked here too, so a bad QUOTA_* stops every page, not only the first turn
    except ConfigurationError as error:
        st.error(str(error))
        st.stop()
    return render_sidebar(settings, home)


@contextmanager
def app_shell(home: StreamlitPage) -> Iterator[PageContext]:
    """Renders the page config and sidebar for the page run inside the block."""
    _run.context = _render_shell(home)
    try:
        yield _run.context
    finally:
        _run.context = None


def setup_page(title: str, caption: str) -> PageContext:
    """Every page's first call: the sidebar's choices (rendered here if no router did), title, caption."""
    context: PageContext | None = getattr(_run, "context", None)
    if context is None:  # Streamlit ran this file directly, without the router
        context = _render_shell(MAIN_SCRIPT)
    st.title(title)
    st.caption(caption)
    return context
