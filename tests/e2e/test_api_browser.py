"""The SSE API in headless Chromium: the tutorial's client from another origin, our client's
XSS safety, resumption after a server-side connection drop, and Stop."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from streaming_core.api.app import create_app
from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings
from streaming_core.testing.servers import ApiServer, ServerThread, wait_until

pytestmark = pytest.mark.browser

SETTINGS = Settings(backend="scripted")
LIMITS = ApiLimits(retry_ms=200, ping_s=0)
ANSWER = "Streaming shows the answer piece by piece, so the reader starts before the model is done."
PAYLOAD = (
    "<script>window.__xss = 1; alert(1)</script>"
    '<img src=x onerror="window.__xss = 2; alert(2)">'
    '<a href="javascript:alert(3)">click</a> & more'
)

# The tutorial's client, unchanged except for the API's address.
TUTORIAL_PAGE = """<!doctype html>
<html><body>
<div id="output"></div>
<script>
const eventSource = new EventSource('%(api)s/chat/stream?query=' + encodeURIComponent('Explain streaming'));
eventSource.onmessage = function(event) {
    if (event.data === '[DONE]') {
        eventSource.close();
        return;
    }
    const data = JSON.parse(event.data);
    document.getElementById('output').innerHTML += data.text;
};
</script>
</body></html>"""


def api(*replies: ScriptedReply, limits: ApiLimits = LIMITS) -> ApiServer:
    return ApiServer(AssistantConfig(backend="scripted", persistent=False, script=replies), SETTINGS, limits)


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def test_tutorial_client_on_another_origin_shows_the_answer_once(page: Any) -> None:
    with api(ScriptedReply(text=ANSWER, chunk_size=6)) as server:
        tutorial = Starlette(routes=[Route("/", lambda request: HTMLResponse(TUTORIAL_PAGE % {"api": server.url}))])
        with ServerThread(tutorial) as other_origin:
            page.goto(other_origin.url)
            page.wait_for_function("eventSource.readyState === EventSource.CLOSED", timeout=15_000)

            assert page.text_content("#output") == ANSWER
            assert server.model().log.started == 1  # closed on [DONE], so never asked again


def test_our_client_renders_a_script_payload_as_inert_text(page: Any) -> None:
    with api(ScriptedReply(text=PAYLOAD, chunk_size=7)) as server:
        page.goto(server.url)
        page.fill("#query", "Show me some HTML")
        page.click("#send")
        page.wait_for_selector('#status[data-state="done"]', timeout=15_000)

        assert page.text_content("#answer") == PAYLOAD
        assert page.eval_on_selector("#answer", "node => node.children.length") == 0
        assert page.evaluate("window.__xss") is None
        assert page.dialogs == []
        assert "chunks" in page.text_content("#status") and "first chunk after" in page.text_content("#status")


def test_our_client_resumes_after_a_server_side_connection_drop(page: Any) -> None:
    text = "".join(f"{n:02d} " for n in range(40))
    with api(ScriptedReply(text=text, chunk_size=3, chunk_delay=0.05)) as server, DroppingProxy(server.port) as proxy:
        page.goto(proxy.url)
        page.fill("#query", "Count slowly")
        page.click("#send")
        page.wait_for_function("() => document.querySelector('#answer').textContent.length >= 15", timeout=15_000)

        proxy.drop_connections()
        page.wait_for_selector('#status[data-state="done"]', timeout=15_000)

        assert page.text_content("#answer") == text
        assert "resumed 1×" in page.text_content("#status")
        assert server.model().log.started == 1


def test_our_client_stop_cancels_the_model_call_at_once(page: Any) -> None:
    with api(ScriptedReply(text=ANSWER, chunk_size=4, hang_after=3)) as server:  # default 30 s grace
        model = server.model()
        page.goto(server.url)
        page.fill("#query", "Go")
        page.click("#send")
        page.wait_for_function("() => document.querySelector('#answer').textContent.length === 12", timeout=15_000)

        page.click("#stop")

        wait_until(lambda: model.log.cancelled == 1, message="the model call to be cancelled")
        assert page.get_attribute("#status", "data-state") == "stopped"
        assert page.text_content("#answer") == ANSWER[:12]


def test_our_client_works_when_the_api_is_mounted_under_a_prefix(page: Any) -> None:
    config = AssistantConfig(backend="scripted", persistent=False, script=(ScriptedReply(text=ANSWER, chunk_size=9),))
    host = Starlette(routes=[Mount("/api", app=create_app(config, settings=SETTINGS, limits=LIMITS))])
    with ServerThread(host) as server:
        page.goto(f"{server.url}/api/")
        page.fill("#query", "Explain streaming")
        page.click("#send")
        page.wait_for_selector('#status[data-state="done"]', timeout=15_000)

        assert page.text_content("#answer") == ANSWER


class DroppingProxy:
    """A TCP proxy to 127.0.0.1:`port` that can cut every open connection, like a flaky network."""

    def __init__(self, port: int) -> None:
        self._upstream = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        self.drop_connections()

    def drop_connections(self) -> None:
        with self._lock:
            for sock in self._open:
                with suppress(OSError):  # already closed by the other side
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(("127.0.0.1", self._upstream))
            with self._lock:
                self._open.update((client, upstream))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):  # the connection was dropped
            while data := source.recv(65536):
                target.sendall(data)
        for sock in (source, target):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
