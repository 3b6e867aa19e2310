"""Servers on their own uvicorn thread, on a free 127.0.0.1 port: any ASGI app (`ServerThread`)
or our SSE API with its scripted model at hand (`ApiServer`); `wait_until`/`eventually` poll with a deadline."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Self, TypeVar

import uvicorn

from streaming_core.api.app import create_app
from streaming_core.api.limits import ApiLimits
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm
from streaming_core.runtime import AssistantConfig, get_assistant
from streaming_core.settings import Settings

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
