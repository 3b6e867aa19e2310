"""Helpers for tests against real servers: an ASGI app (or our SSE API) on uvicorn in a thread,
an SSE reader, and headless Chromium (Debian's build: Playwright cannot download browsers)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
import pytest
import uvicorn
from httpx_sse import ServerSentEvent, aconnect_sse

from streaming_core.api.app import create_app
from streaming_core.api.limits import ApiLimits
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm
from streaming_core.runtime import AssistantConfig, get_assistant
from streaming_core.settings import Settings

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

T = TypeVar("T")


class _Server(uvicorn.Server):
    """Remembers its event loop, so tests can run code on it (ADK objects are loop-bound)."""

    loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)


class ServerThread:
    """Serves an ASGI app with uvicorn on a free 127.0.0.1 port in a daemon thread.

    Use as a context manager; leaving it stops the server and joins the thread.
    """

    def __init__(self, app: Any, *, graceful_shutdown_s: int = 2) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=graceful_shutdown_s)
        self.server = _Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, name=f"uvicorn-{self.port}", daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.01)  # polling a flag with a deadline, not synchronizing on time
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError(f"uvicorn on port {self.port} did not stop")

    def call(self, function: Callable[[], T], timeout: float = 10) -> T:
        """Runs `function` on the server's loop and returns its result."""
        assert self.server.loop is not None
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(function())
            except BaseException as error:
                future.set_exception(error)

        self.server.loop.call_soon_threadsafe(run)
        return future.result(timeout)

    def call_async(self, function: Callable[[], Coroutine[Any, Any, T]], timeout: float = 10) -> T:
        """Runs the coroutine `function()` returns on the server's loop and returns its result."""
        assert self.server.loop is not None
        return asyncio.run_coroutine_threadsafe(function(), self.server.loop).result(timeout)


def wait_until(condition: Callable[[], bool], timeout: float = 10, message: str = "condition") -> None:
    """Polls `condition` until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(0.01)


async def eventually(condition: Callable[[], bool], timeout: float = 10, message: str = "condition") -> None:
    """`wait_until` for async tests: polls without blocking the test's event loop."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        await asyncio.sleep(0.01)


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


@dataclass
class SseReply:
    """One SSE response read to its end: the events, when each arrived, and the headers."""

    status_code: int
    headers: httpx.Headers
    events: list[ServerSentEvent] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The answer as the tutorial's client builds it: unnamed events before [DONE]. (httpx-sse
        reports a keep-alive comment as an empty message; browsers ignore it.)"""
        chunks = [e for e in self.events if e.event == "message" and e.data not in ("", "[DONE]")]
        return "".join(json.loads(e.data)["text"] for e in chunks)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(e.data) for e in self.events if e.event == name]


async def read_sse(
    client: httpx.AsyncClient, method: str, url: str, *, limit: int | None = None, **kwargs: Any
) -> SseReply:
    """Reads an SSE response until it ends, or until `limit` events then hangs up."""
    async with aconnect_sse(client, method, url, **kwargs) as source:
        reply = SseReply(source.response.status_code, source.response.headers)
        if source.response.status_code != 200:
            await source.response.aread()
            return reply
        async for event in source.aiter_sse():
            reply.events.append(event)
            reply.arrivals.append(time.monotonic())
            if limit is not None and len(reply.events) >= limit:
                break
        return reply


class ApiServer(ServerThread):
    """Our SSE API (`create_app`) on its own uvicorn thread, with its scripted model at hand."""

    def __init__(self, config: AssistantConfig, settings: Settings, limits: ApiLimits, **kwargs: Any) -> None:
        super().__init__(create_app(config, settings=settings, limits=limits), **kwargs)
        self.config = config
        self.settings = settings

    def assistant(self) -> Assistant:
        """The Assistant serving requests (built on the server's loop, so fetched there)."""
        return self.call(lambda: get_assistant(self.config, self.settings))

    def model(self) -> ScriptedLlm:
        model = self.assistant().agent.model
        assert isinstance(model, ScriptedLlm)
        return model
