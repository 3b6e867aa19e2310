"""Page set-up shared by the router and every page: page config, the sidebar, title and caption.

The router renders the sidebar once per run, before the page, so its widgets keep their values
across pages. A page can also run on its own: Streamlit runs a deep-linked file in `pages/`
directly (without the router) for the first session after start, so `setup_page` renders the
sidebar itself when no router did.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from streaming_core.errors import ConfigurationError
from streaming_core.settings import load_settings
from ui.context import PageContext
from ui.sidebar import render_sidebar

_run = threading.local()  # the script thread's current run; pages execute on the same thread


def configure_page() -> None:
    # No page_title: st.navigation titles each browser tab after its page.
    st.set_page_config(page_icon=":material/stream:", layout="wide")


def _render_shell() -> PageContext:
    try:
        settings = load_settings()
    except ConfigurationError as error:
        st.error(str(error))
        st.stop()
    return render_sidebar(settings)


@contextmanager
def app_shell() -> Iterator[PageContext]:
    """Renders the page config and sidebar for the page run inside the block."""
    configure_page()
    _run.context = _render_shell()
    try:
        yield _run.context
    finally:
        _run.context = None


def setup_page(title: str, caption: str) -> PageContext:
    """Every page's first call: the shared sidebar (rendered here if no router did), title, caption."""
    context: PageContext | None = getattr(_run, "context", None)
    if context is None:
        configure_page()
        context = _render_shell()
    st.title(title)
    st.caption(caption)
    return context
