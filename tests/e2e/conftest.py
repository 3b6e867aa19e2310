"""Fixtures for tests against real servers: headless Chromium (Debian's build: Playwright cannot
download browsers). The servers and the SSE reader are in `streaming_core.testing`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from streaming_core.testing.streamlit_browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium browser for one test module.

    Not session-scoped: Playwright's sync API keeps its own event loop running in the main
    thread while it is started, and every async test after it would fail with "cannot be
    called from a running event loop".
    """
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed; run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
