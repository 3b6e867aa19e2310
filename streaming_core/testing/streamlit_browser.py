"""A tab on the Streamlit demo in headless Chromium that waits on Streamlit's own run state,
for the browser tests, the browser benchmarks and the screenshot script."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from streaming_core.testing.streamlit_server import StreamlitServer

# Debian's build: Playwright cannot download browsers on this platform (scripts/install-browser.sh).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

_FOR_RERUN = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# Records each distinct length of the last chat message's text, with its time.
WATCH_ANSWER = """
window.__lengths = [];
new MutationObserver(() => {
  const messages = document.querySelectorAll('[data-testid="stChatMessage"]');
  const last = messages[messages.length - 1];
  if (!last) return;
  const length = last.innerText.length;
  const seen = window.__lengths;
  if (!seen.length || seen[seen.length - 1][1] !== length) seen.push([performance.now(), length]);
}).observe(document.body, {subtree: true, childList: true, characterData: true});
"""


class Browser:
    """One tab on the demo, waiting on Streamlit's own run state rather than on time."""

    def __init__(self, page: Any, server: StreamlitServer) -> None:
        self.page = page
        self.server = server
        self.finished_runs = 0
        page.on("websocket", self._watch_runs)

    def _watch_runs(self, websocket: Any) -> None:
        """Counts the server's script_finished messages, read with Streamlit's own protobuf. The
        page's run state cannot count them: React may render a fast run's 'running' and
        'notRunning' in one commit, so the DOM never changes and the run goes unseen."""

        def frame(payload: bytes | str) -> None:
            if isinstance(payload, bytes):
                message = ForwardMsg.FromString(payload)
                # A run stopped for the rerun an action asked for is not the run it waits for.
                if message.WhichOneof("type") == "script_finished" and message.script_finished != _FOR_RERUN:
                    self.finished_runs += 1

        websocket.on("framereceived", frame)

    def open(self, path: str = "") -> None:
        self.page.goto(f"{self.server.url}/{path}")
        self._wait_for_runs(1, 120_000)

    def run_after(self, action: Callable[[], None], timeout_ms: float = 120_000) -> None:
        """Does `action`, then waits until Streamlit finished the run it caused (or the run going on
        when it acted, which is the one that a Stop ends)."""
        before = self.finished_runs
        action()
        self._wait_for_runs(before + 1, timeout_ms)

    def _wait_for_runs(self, count: int, timeout_ms: float) -> None:
        deadline = time.monotonic() + timeout_ms / 1000
        while self.finished_runs < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Streamlit finished {self.finished_runs} runs, not {count}, in {timeout_ms:.0f} ms")
            self.page.wait_for_timeout(20)  # lets Playwright deliver the websocket's frames

    def wait_until_idle(self, timeout_ms: float = 120_000) -> None:
        self.page.wait_for_selector(IDLE, timeout=timeout_ms)

    def set_number(self, label: str, value: float) -> None:
        box = self.page.get_by_label(label, exact=True)

        def enter() -> None:
            box.fill(str(value))
            box.press("Enter")

        self.run_after(enter)

    def chat(self, text: str) -> None:
        self.wait_until_idle()  # a message sent while a run ends may not get its Stop button
        box = self.page.get_by_test_id("stChatInputTextArea")
        box.fill(text)
        box.press("Enter")

    def exceptions(self) -> int:
        return int(self.page.locator('[data-testid="stException"]').count())


@contextmanager
def new_tab(chromium: Any, server: StreamlitServer) -> Iterator[Browser]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield Browser(context.new_page(), server)
    finally:
        context.close()
