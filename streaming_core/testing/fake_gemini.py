"""A local fake of the Gemini REST API (generateContent, streamGenerateContent?alt=sse) for tests.

Scripted scenarios, served by uvicorn on 127.0.0.1; every request body and API key is recorded.
`fake_gemini_environment` points google-genai's variables at it. `python -m
streaming_core.testing.fake_gemini --port N` serves one reply to every request from a process of
its own, as a remote Gemini would be: the load benchmarks' client does not share its GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    import pytest

Json: TypeAlias = dict[str, Any]
Kind: TypeAlias = Literal[
    "text", "function_call", "error", "cut", "hang", "blocked_prompt", "blocked_candidate", "empty"
]
_RPC = "type.googleapis.com/google.rpc."
SENTINEL_KEY = "test-key-SENTINEL-123"
# An idle connection outlives httpx's 5 s keep-alive expiry, as on Google's front ends; at uvicorn's
# default of 5 s too, a client reusing a connection the server is closing lost the answer (ReadError).
KEEP_ALIVE_S = 65
GENAI_VARIABLES = (
    "GEMINI_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scripted reply: the class methods below, or `Scenario(kind="hang" | "blocked_prompt" | ...)`.

    hang: headers, then silence until the client goes away. blocked_prompt: promptFeedback.blockReason
    SAFETY and no candidates. blocked_candidate: one candidate, finishReason SAFETY, no content.
    empty: one candidate, finishReason STOP, content without parts (Gemini's empty answer).
    """

    kind: Kind = "text"
    text: str = "Hello from the fake Gemini."
    chunks: int = 3
    first_delay: float = 0.0  # seconds before the first chunk (after the headers)
    delay: float = 0.0  # seconds between chunks
    function_name: str = ""
    function_args: Json = field(default_factory=dict)
    error: Json = field(default_factory=dict)  # the google.rpc Status body, {"code", "message", "status", ...}
    after_chunks: int = 0  # cut: chunks before the drop; error: chunks before an in-stream error

    @classmethod
    def reply(cls, text: str, *, chunks: int = 3, delay: float = 0.0, first_delay: float = 0.0) -> Scenario:
        return cls(text=text, chunks=chunks, delay=delay, first_delay=first_delay)

    @classmethod
    def function_call(cls, name: str, args: Json | None = None) -> Scenario:
        return cls(kind="function_call", function_name=name, function_args=args or {})

    @classmethod
    def failure(cls, code: int, status: str, message: str, *details: Json, after_chunks: int = 0) -> Scenario:
        body = {"code": code, "message": message, "status": status, "details": list(details)}
        return cls(kind="error", error=body, after_chunks=after_chunks)

    @classmethod
    def quota_exhausted(cls, retry_delay: str = "17s") -> Scenario:
        retry_info = {"@type": _RPC + "RetryInfo", "retryDelay": retry_delay}
        quota = {"@type": _RPC + "QuotaFailure", "violations": [{"quotaMetric": "generate_content_free_tier_requests"}]}
        return cls.failure(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", quota, retry_info)

    @classmethod
    def permission_denied(cls) -> Scenario:
        return cls.failure(403, "PERMISSION_DENIED", "API key not valid. Please pass a valid API key.")

    @classmethod
    def invalid_api_key(cls) -> Scenario:
        # What the real Gemini API answers for a wrong key: 400, not 401/403, with ErrorInfo API_KEY_INVALID.
        info = {"@type": _RPC + "ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}
        return cls.failure(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", info)

    @classmethod
    def invalid_argument(cls, message: str = "Request contains an invalid argument.") -> Scenario:
        return cls.failure(400, "INVALID_ARGUMENT", message)

    @classmethod
    def internal_error(cls, *, after_chunks: int = 0) -> Scenario:
        return cls.failure(500, "INTERNAL", "An internal error has occurred.", after_chunks=after_chunks)

    @classmethod
    def cut(cls, text: str = "This answer will be cut off.", *, after_chunks: int = 1, chunks: int = 3) -> Scenario:
        return cls(kind="cut", text=text, chunks=chunks, after_chunks=after_chunks)

    def pieces(self) -> list[str]:
        """The text of each chunk a streamed reply sends, in order (before any cut or error)."""
        size = -(-len(self.text) // max(1, self.chunks)) or 1
        return [self.text[i : i + size] for i in range(0, len(self.text), size)] or [""]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the fake received: `body` is the GenerateContentRequest JSON exactly as sent."""

    api_version: str
    model: str
    method: str  # "streamGenerateContent" or "generateContent"
    query: str
    api_key: str | None
    body: Json

    @property
    def system_text(self) -> str:
        parts = (self.body.get("systemInstruction") or {}).get("parts", [])
        return "".join(part.get("text", "") for part in parts)

    @property
    def turns(self) -> list[tuple[str, str]]:
        """(role, text) for each content in the history, function calls and results as ''."""
        return [
            (c.get("role", ""), "".join(p.get("text", "") for p in c.get("parts", [])))
            for c in self.body.get("contents", [])
        ]


class FakeGeminiServer:
    """Serves scripted scenarios; use as a context manager. Unscripted requests get `default`.

    `keep` bounds the recorded requests to the latest ones, so a long soak's memory stays flat.
    """

    def __init__(self, default: Scenario | None = None, *, keep: int | None = None, port: int = 0) -> None:
        self.default = default or Scenario()
        self._scenarios: deque[Scenario] = deque()
        self._routes: dict[str, deque[Scenario]] = {}
        self._requests: deque[RecordedRequest] = deque(maxlen=keep)
        self._count = 0
        self._lock = threading.Condition()
        self.disconnected = threading.Event()  # set when a client went away mid-response
        self.disconnects = 0
        # Ends hung responses at exit; asyncio.Event binds to the server's loop on first wait.
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", port))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        generate = Route("/{version}/models/{model_method}", self._handle, methods=["POST"])
        app = Starlette(routes=[generate, Route("/healthz", _healthy)])
        # h11 pinned so the abrupt-close behaviour below does not depend on httptools being installed;
        # the grace period is a backstop only: hung responses end when _stopping is set.
        config = uvicorn.Config(
            app,
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, args=([self._sock],), daemon=True)

    def enqueue(self, *scenarios: Scenario) -> None:
        with self._lock:
            self._scenarios.extend(scenarios)

    def route(self, tag: str, *scenarios: Scenario) -> None:
        """Answers requests whose last user message contains `tag` with `scenarios`, in order, ahead
        of the queue: concurrent clients each get their own script whatever order requests arrive in."""
        with self._lock:
            self._routes[tag] = deque(scenarios)

    def clear(self) -> None:
        """Drops scenarios still queued or routed, e.g. retries a client did not make."""
        with self._lock:
            self._scenarios.clear()
            self._routes.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """Every request received, including those `keep` no longer holds."""
        with self._lock:
            return self._count

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Blocks until `count` requests arrived (call via asyncio.to_thread from a test's loop)."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._count >= count, timeout):
                raise TimeoutError(f"FakeGeminiServer got {self._count} of {count} requests")
            return list(self._requests)

    def __enter__(self) -> FakeGeminiServer:
        self._thread.start()
        deadline = time.monotonic() + 5.0
        while not self._server.started:  # uvicorn offers no start callback, so poll its flag
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeGeminiServer did not start")
            time.sleep(0.01)
        return self

    def serve(self) -> None:
        """Serves from the calling (main) thread until SIGINT or SIGTERM, which uvicorn handles there."""
        self._server.run([self._sock])

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        self._thread.join(timeout=2.0)

    async def _handle(self, request: Request) -> Response:
        self._loop = asyncio.get_running_loop()
        model, _, method = request.path_params["model_method"].rpartition(":")
        body = json.loads(await request.body() or b"{}")
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        recorded = RecordedRequest(request.path_params["version"], model, method, request.url.query, key, body)
        with self._lock:
            self._requests.append(recorded)
            self._count += 1
            self._lock.notify_all()
            scenario = self._next_scenario(recorded)
        streaming = method == "streamGenerateContent"
        if method not in ("streamGenerateContent", "generateContent"):
            return JSONResponse({"error": {"code": 404, "message": f"No method {method}", "status": "NOT_FOUND"}}, 404)
        if scenario.kind == "error" and (scenario.after_chunks == 0 or not streaming):
            return JSONResponse({"error": scenario.error}, status_code=scenario.error["code"])
        if streaming:
            frames = [f"data: {json.dumps(p)}\r\n\r\n".encode() for p in _payloads(scenario, model)]
            frames = frames[: scenario.after_chunks] if scenario.kind == "cut" else frames
        else:  # generateContent answers with one whole body; a cut one stops halfway through its JSON
            frames = [json.dumps(p).encode() for p in _payloads(replace(scenario, chunks=1), model)]
            frames = [frames[0][: len(frames[0]) // 2]] if scenario.kind == "cut" else frames
        media_type = "text/event-stream" if streaming else "application/json"
        return _FrameResponse(self, frames, media_type, scenario)

    def _next_scenario(self, request: RecordedRequest) -> Scenario:
        user_turns = [text for role, text in request.turns if role == "user"]
        tag = next((tag for tag in self._routes if user_turns and tag in user_turns[-1]), None)
        if tag is not None:
            routed = self._routes[tag]
            scenario = routed.popleft()
            if not routed:
                del self._routes[tag]
            return scenario
        return self._scenarios.popleft() if self._scenarios else self.default

    def _record_disconnect(self) -> None:
        with self._lock:
            self.disconnects += 1
        self.disconnected.set()


class _FrameResponse(Response):
    """Sends frames with the scenario's delays while watching for the client to go away.

    Starlette's StreamingResponse stops listening for disconnects under ASGI spec 2.4, so a silent
    stream would never notice; racing the producer against receive() works on every server.
    """

    def __init__(self, fake: FakeGeminiServer, frames: list[bytes], media_type: str, scenario: Scenario) -> None:
        super().__init__(media_type=media_type)
        self.fake, self.frames, self.scenario = fake, frames, scenario

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", str(self.media_type).encode())]  # no content-length: body is chunked
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        producer = asyncio.create_task(self._produce(send))
        watcher = asyncio.create_task(_wait_for_disconnect(receive))
        try:
            await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if not producer.done():  # the client left before we finished: that is what tests assert on
                self.fake._record_disconnect()
        finally:
            producer.cancel()
            watcher.cancel()
            await asyncio.gather(producer, watcher, return_exceptions=True)
        # "cut" returns without the final empty body: uvicorn then closes the socket mid-chunked-body
        # (logging "ASGI callable returned without completing response"), a real abrupt close.

    async def _produce(self, send: Send) -> None:
        for index, frame in enumerate(self.frames):
            await asyncio.sleep(self.scenario.first_delay if index == 0 else self.scenario.delay)
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        if self.scenario.kind == "hang":  # only a disconnect or the server stopping ends a hang
            await self.fake._stopping.wait()
        elif self.scenario.kind != "cut":
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _healthy(request: Request) -> Response:
    return Response()


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _payloads(scenario: Scenario, model: str) -> list[Json]:
    """The GenerateContentResponse JSON objects a stream of this scenario carries, in order."""
    usage = {"promptTokenCount": 8, "totalTokenCount": 8}
    meta = {"modelVersion": model, "responseId": "fake-response"}
    if scenario.kind == "blocked_prompt":
        return [{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage, **meta}]
    if scenario.kind == "blocked_candidate":
        rating = {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
        return [{"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [rating]}], **meta}]
    if scenario.kind == "empty":
        return [{"candidates": [{"content": {"role": "model"}, "finishReason": "STOP", "index": 0}], **meta}]
    if scenario.kind == "function_call":
        call = {"functionCall": {"name": scenario.function_name, "args": scenario.function_args}}
        return [_candidate([call], "STOP", usage, meta)]
    if scenario.kind == "hang":
        return []
    text, pieces = scenario.text, scenario.pieces()
    final = {**usage, "candidatesTokenCount": len(text.split()), "totalTokenCount": 8 + len(text.split())}
    payloads = [_candidate([{"text": piece}], None, usage, meta) for piece in pieces]
    payloads[-1] = _candidate([{"text": pieces[-1]}], "STOP", final, meta)
    if scenario.kind == "error":  # an error reported inside a 200 stream after some chunks, as Gemini does
        return [*payloads[: scenario.after_chunks], {"error": scenario.error}]
    return payloads


def _candidate(parts: list[Json], finish_reason: str | None, usage: Json, meta: Json) -> Json:
    candidate: Json = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish_reason:
        candidate["finishReason"] = finish_reason
    return {"candidates": [candidate], "usageMetadata": usage, **meta}


@contextmanager
def fake_gemini_environment(patch: pytest.MonkeyPatch, *, keep: int | None = None) -> Iterator[FakeGeminiServer]:
    """A local Gemini REST endpoint that google-genai's variables point at, with SENTINEL_KEY."""
    # Set before any model exists: ADK builds its genai client, which reads these, on first use.
    for name in GENAI_VARIABLES:
        patch.delenv(name, raising=False)
    with FakeGeminiServer(keep=keep) as server:
        patch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
        patch.setenv("GOOGLE_API_KEY", SENTINEL_KEY)
        yield server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The fake Gemini, answering every request with one reply.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=3, help="chunks per answer")
    parser.add_argument("--chunk-chars", type=int, default=10, help="characters per chunk")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between chunks")
    args = parser.parse_args(argv)
    reply = Scenario.reply("x" * (args.chunks * args.chunk_chars), chunks=args.chunks, delay=args.delay)
    FakeGeminiServer(default=reply, keep=0, port=args.port).serve()


if __name__ == "__main__":
    main()
