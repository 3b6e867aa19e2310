"""Headless Chromium on the chat page of a real `streamlit run app.py` (scripted backend), for the
browser benchmarks; reuses the browser tests' server fixture and tab driver."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from streaming_core.testing.processes import UNLIMITED_QUOTAS
from streaming_core.testing.streamlit_browser import CHROMIUM, CHROMIUM_ARGS, Browser
from streaming_core.testing.streamlit_server import StreamlitServer

# The sidebar's scripted-model knobs (ui/sidebar.py), by label.
CHUNK_SIZE = "Characters per chunk"
FIRST_CHUNK_DELAY = "First chunk after (s)"
CHUNK_DELAY = "Between chunks (s)"
STOP_BUTTON = '[data-testid="stChatInputStopButton"]'
NEW_CHAT = "New chat"  # the sidebar's button that starts a conversation (ui/conversations.py)
# The scripted model's default answer starts by echoing the message (streaming_core/backends/scripted.py).
ANSWER_PREFIX = "You asked: "
_SETTLE_TIMEOUT_MS = 30_000


def server_cpu_s(server: StreamlitServer) -> float:
    """CPU seconds the Streamlit server has used so far: the child of this process serving its port."""
    flag = f"--server.port={server.port}"
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):  # another child may exit while we look
            if flag in child.cmdline():
                times = child.cpu_times()
                return float(times.user + times.system)
    raise RuntimeError(f"no child process serves Streamlit on port {server.port}")


def browser_cpu_s() -> float:
    """CPU seconds Chromium's processes (this process's descendants) have used so far."""
    total = 0.0
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a renderer may exit while we look
            if "chrom" in process.name():
                times = process.cpu_times()
                total += times.user + times.system
    return total


def decode(payload: str | bytes) -> ForwardMsg:
    """A websocket frame from Streamlit's server: one protobuf ForwardMsg."""
    return ForwardMsg.FromString(payload if isinstance(payload, bytes) else payload.encode())


def _run_completed(payload: str | bytes) -> bool:
    message = decode(payload)
    return (
        message.WhichOneof("type") == "script_finished" and message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
    )


class ChatTab(Browser):
    """The tests' tab driver, waiting on the server's own messages on the page's websocket
    instead of the DOM: on a busy machine React can render a run that ends in st.rerun and the
    rerun, or a widget's short run, without ever showing the idle state in between."""

    def __init__(self, page: Any, server: StreamlitServer) -> None:
        super().__init__(page, server)
        self._sockets: list[Any] = []
        page.on("websocket", lambda socket: self._sockets.append(socket))

    @property
    def socket(self) -> Any:
        return self._sockets[-1]

    def completed_run_after(self, action: Callable[[], object], timeout_ms: float) -> None:
        """Does `action`, then waits for the server to report a run completed (not cut short by a
        rerun): after a chat message, that is the chat's rerun once the answer is in."""
        with self.socket.expect_event("framereceived", predicate=_run_completed, timeout=timeout_ms):
            action()

    def chat_turn(self, text: str, timeout_ms: float) -> None:
        self.completed_run_after(lambda: self.chat(text), timeout_ms)

    def new_chat(self) -> None:
        """Starts a new conversation with the sidebar's button, as a visitor would."""
        button = self.page.get_by_test_id("stSidebar").get_by_role("button", name=NEW_CHAT)
        self.completed_run_after(button.click, _SETTLE_TIMEOUT_MS)

    def set_number(self, label: str, value: float) -> None:
        box = self.page.get_by_label(label, exact=True)
        self.completed_run_after(lambda: (box.fill(str(value)), box.press("Enter")), _SETTLE_TIMEOUT_MS)


@contextmanager
def demo_in_chromium(**env: str) -> Iterator[tuple[StreamlitServer, Any]]:
    """The demo on a free port with `env` added to its environment, and a headless Chromium."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing; run `make browser`")
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as workdir,
        StreamlitServer(Path(workdir), {**UNLIMITED_QUOTAS, **env}) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield server, browser
        finally:
            browser.close()


@contextmanager
def chat_tab(server: StreamlitServer, browser: Any, pacing: Mapping[str, float]) -> Iterator[ChatTab]:
    """A fresh browser session (so a new conversation) on the chat page, idle, with the scripted
    model paced by `pacing` (sidebar label -> value)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        tab = ChatTab(context.new_page(), server)
        tab.open("chat")
        for label, value in pacing.items():
            tab.set_number(label, value)
        tab.wait_until_idle()
        yield tab
    finally:
        context.close()
