"""A tab on the Streamlit demo in headless Chromium that waits on Streamlit's own run state,
for the browser tests, the browser benchmarks and the screenshot script."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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

# Counts finished script runs: Streamlit sets data-test-script-state on stApp. A fast run can go
# notRunning -> running -> notRunning within one observer batch, so replay the batch's old values.
WATCH_RUNS = """
window.__runsFinished = 0;
let lastState = null;
const see = (state) => {
  if (state !== lastState && state === "notRunning") window.__runsFinished += 1;
  lastState = state;
};
new MutationObserver((records) => {
  for (const record of records) {
    if (record.type === "attributes" && record.target.getAttribute("data-testid") === "stApp") {
      see(record.oldValue);
    }
  }
  const app = document.querySelector('[data-testid="stApp"]');
  see(app && app.getAttribute("data-test-script-state"));
}).observe(document, {
  subtree: true, childList: true, attributes: true, attributeOldValue: true,
  attributeFilter: ["data-test-script-state"],
});
"""
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
        page.add_init_script(WATCH_RUNS)

    def open(self, path: str = "") -> None:
        self.page.goto(f"{self.server.url}/{path}")
        self.page.wait_for_function("window.__runsFinished >= 1", timeout=120_000)

    def finished_runs(self) -> int:
        return int(self.page.evaluate("window.__runsFinished"))

    def run_after(self, action: Callable[[], None], timeout_ms: float = 120_000) -> None:
        """Does `action`, then waits until Streamlit finished the run it caused (or the run going on
        when it acted, which is the one that a Stop ends)."""
        before = self.finished_runs()
        action()
        self.page.wait_for_function("n => window.__runsFinished > n", arg=before, timeout=timeout_ms)

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
