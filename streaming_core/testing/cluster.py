"""API workers as real processes on one shared port, over real Redis and PostgreSQL, for tests.

Each worker runs the scripted model, its replies passed in SCRIPTED_REPLIES (JSON), and also
listens on a private port, so a test can reach one worker on purpose (resume on B what A
produced) and read what its model saw (`/testing/model-log`, served only by this test app).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Self

import httpx
from fastapi import FastAPI
from google.genai import types

from streaming_core.api.app import create_app
from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.runtime import AssistantConfig, get_assistant
from streaming_core.settings import Settings, load_settings
from streaming_core.testing.datastores import free_port
from streaming_core.testing.processes import UNLIMITED_QUOTAS

ROOT = Path(__file__).resolve().parents[2]
SCRIPTED = Settings(backend="scripted")
DEFAULT_LIMITS = ApiLimits()
_LIMIT_VARIABLES = {
    "max_streams_per_client": "API_MAX_STREAMS_PER_CLIENT",
    "rate_per_minute": "API_RATE_PER_MINUTE",
    "grace_s": "API_GRACE_SECONDS",
    "buffer_events": "API_BUFFER_EVENTS",
    "max_runs": "API_MAX_RUNS",
    "turn_timeout_s": "API_TURN_TIMEOUT_SECONDS",
    "ping_s": "API_PING_SECONDS",
    "send_timeout_s": "API_SEND_TIMEOUT_SECONDS",
    "retry_ms": "API_RETRY_MS",
}


def limits_env(limits: ApiLimits) -> dict[str, str]:
    env = {variable: str(getattr(limits, name)) for name, variable in _LIMIT_VARIABLES.items()}
    env["API_CORS_ORIGINS"] = ",".join(limits.cors_origins)
    return env


def replies_env(replies: tuple[ScriptedReply, ...]) -> dict[str, str]:
    return {"SCRIPTED_REPLIES": json.dumps([dataclasses.asdict(reply) for reply in replies])}


def replies_from_env(env: Mapping[str, str]) -> tuple[ScriptedReply, ...]:
    replies = []
    for raw in json.loads(env.get("SCRIPTED_REPLIES", "[{}]")):
        call = raw.pop("function_call", None)
        replies.append(ScriptedReply(**raw, function_call=tuple(call) if call else None))
    return tuple(replies)


def create_worker_app() -> FastAPI:
    """`create_app` on the scripted model from SCRIPTED_REPLIES, plus the model's log and the collector's settings."""
    settings = load_settings()
    tools = tuple(name for name in os.environ.get("SCRIPTED_TOOLS", "").split(",") if name)
    coalesce = os.environ.get("SCRIPTED_COALESCE", "1") == "1"
    config = AssistantConfig(backend="scripted", script=replies_from_env(os.environ), tools=tools, coalesce=coalesce)
    app = create_app(config, settings=settings)

    @app.get("/testing/model-log", include_in_schema=False)
    async def model_log() -> dict[str, Any]:
        model = get_assistant(config, settings).agent.model
        assert isinstance(model, ScriptedLlm)
        log = model.log
        requests = [
            [content.model_dump(mode="json", exclude_none=True) for content in r.contents] for r in log.requests
        ]
        return {"started": log.started, "completed": log.completed, "cancelled": log.cancelled, "requests": requests,
                "at": time.time()}  # fmt: skip

    @app.get("/testing/collector", include_in_schema=False)
    async def collector() -> dict[str, Any]:
        return {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}

    return app


@dataclass(frozen=True, slots=True)
class Stores:
    run_store_url: str  # RUN_STORE_URL
    session_service_uri: str  # SESSION_SERVICE_URI


@dataclass
class Worker:
    port: int
    private_port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """This worker alone (its private port)."""
        return f"http://127.0.0.1:{self.private_port}"

    def start(self) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "streaming_core.api.worker", "--port", str(self.port),
                   "--private-port", str(self.private_port), "--app", f"{__name__}:create_worker_app"]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"API worker did not start:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling for the port to open, with a deadline

    def kill(self) -> None:
        """SIGKILL: the worker vanishes mid-answer, as a crashed machine's would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.log is not None:
            self.log.close()
            self.log = None

    def output(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        return str(self.log.read().decode(errors="replace"))[-4000:]

    def model_log(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/testing/model-log", timeout=5).json())


@dataclass
class ClusterLog:
    """The scripted models' logs of every live worker, summed; requests in the order they came."""

    started: int
    completed: int
    cancelled: int
    requests: list[Any]


class ClusterModel:
    """Reads the workers' logs afresh on every access, like the live ScriptLog of one process."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    @property
    def log(self) -> ClusterLog:
        logs = [w.model_log() for w in self._cluster.workers if w.process is not None and w.process.poll() is None]
        # Across processes there is no one order; a conversation's later requests carry more history,
        # which is the order the tests ask about (the last request of a conversation).
        requests = sorted((request for log in logs for request in log["requests"]), key=len)
        contents = [SimpleNamespace(contents=[types.Content.model_validate(c) for c in r]) for r in requests]
        return ClusterLog(
            sum(log["started"] for log in logs),
            sum(log["completed"] for log in logs),
            sum(log["cancelled"] for log in logs),
            contents,
        )


class Cluster:
    """`workers` API worker processes sharing one port, on the given stores."""

    def __init__(
        self,
        replies: tuple[ScriptedReply, ...],
        stores: Stores,
        *,
        settings: Settings = SCRIPTED,
        limits: ApiLimits = DEFAULT_LIMITS,
        tools: tuple[str, ...] = (),
        workers: int = 2,
        coalesce: bool = True,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            **UNLIMITED_QUOTAS,
            **limits_env(limits),
            **replies_env(replies),
            "STREAMING_BACKEND": "scripted",
            "MAX_MESSAGE_CHARS": str(settings.max_message_chars),
            "RUN_STORE_URL": stores.run_store_url,
            "SESSION_SERVICE_URI": stores.session_service_uri,
            "SCRIPTED_TOOLS": ",".join(tools),
            "SCRIPTED_COALESCE": "1" if coalesce else "0",
        }
        self.workers = [Worker(self.port, free_port(), env) for _ in range(workers)]

    def __enter__(self) -> Self:
        for worker in self.workers:
            worker.start()
        try:
            for worker in self.workers:
                worker.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def model(self) -> ClusterModel:
        return ClusterModel(self)
