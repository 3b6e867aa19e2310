"""Regenerates docs/screenshot-chat.png: the chat page mid-conversation, scripted backend, headless Chromium.

Run with `.venv/bin/python -m scripts.screenshot` after `make test` has installed the browser.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from streaming_core.testing.streamlit_browser import CHROMIUM, CHROMIUM_ARGS, IDLE
from streaming_core.testing.streamlit_server import StreamlitServer

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "screenshot-chat.png"


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as workdir,
        StreamlitServer(Path(workdir), checkout=ROOT) as server,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{server.url}/chat")
        for question in ["What does StreamingMode.SSE change?", "And why does the answer not appear twice?"]:
            page.wait_for_selector(IDLE)
            page.get_by_test_id("stChatInputTextArea").fill(question)
            page.keyboard.press("Enter")
            page.wait_for_selector('[data-testid="stMetric"]', timeout=30_000)
        page.wait_for_selector(IDLE)
        page.screenshot(path=str(OUTPUT))
        browser.close()
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
