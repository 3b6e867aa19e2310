"""Servers for the API benchmarks, each in its own process so psutil can see its CPU and RSS:
our SSE API (`create_bench_app`) and ADK's `adk api_server` (bench/agents), on the same agent."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import psutil
from fastapi import FastAPI

from streaming_core.api.app import DEFAULT_TOOLS, create_app
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.runtime import AssistantConfig
from tests.e2e.streamlit_server import free_port

ROOT = Path(__file__).resolve().parent.parent
ADK = Path(sys.executable).parent / "adk"
ADK_APP = "streaming_assistant"  # the directory name under bench/agents
# Admission limits out of the way: every stream comes from one client, 127.0.0.1.
UNLIMITED = {"API_MAX_STREAMS_PER_CLIENT": "100000", "API_RATE_PER_MINUTE": "1000000", "API_MAX_RUNS": "100000"}


def reply_env(chunks: int, chars: int, delay: float) -> dict[str, str]:
    """How the benchmark tells a server process its scripted reply."""
    return {"BENCH_REPLY_CHUNKS": str(chunks), "BENCH_REPLY_CHARS": str(chars), "BENCH_REPLY_DELAY": str(delay)}


def bench_config(env: Mapping[str, str] = os.environ) -> AssistantConfig:
    """The agent both servers run: the API's own tools and the scripted reply from `reply_env`, or
    Gemini (`BENCH_BACKEND=gemini`, at GOOGLE_GEMINI_BASE_URL); sessions in memory unless
    SESSION_DB names the SQLite file (`store_env`)."""
    chunks, chars = int(env["BENCH_REPLY_CHUNKS"]), int(env["BENCH_REPLY_CHARS"])
    reply = ScriptedReply(text="x" * (chunks * chars), chunk_size=chars, chunk_delay=float(env["BENCH_REPLY_DELAY"]))
    backend = env.get("BENCH_BACKEND", "scripted")
    return AssistantConfig(backend=backend, tools=DEFAULT_TOOLS, script=(reply,), persistent="SESSION_DB" in env)


def store_env(db: Path | None) -> dict[str, str]:
    """How the benchmark tells our server its session store: SQLite at `db`, in memory when None."""
    return {} if db is None else {"SESSION_DB": str(db)}


def create_bench_app() -> FastAPI:
    """`uvicorn bench.servers:create_bench_app --factory`: `make api`'s app on the bench agent."""
    return create_app(bench_config())


def _die_with_parent() -> None:
    # A server must not outlive a benchmark that was killed: ask Linux to SIGTERM it then.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def raise_fd_limit(needed: int) -> None:
    """Raises this process's soft limit on open files; servers started after inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class ServerProcess:
    """A server command on a free 127.0.0.1 port; entering waits until `health` answers 200,
    leaving stops it (SIGTERM, then SIGKILL)."""

    def __init__(self, name: str, command: list[str], health: str, env: Mapping[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._command = [part.format(port=self.port) for part in command]
        self._health = health
        self._env = {**os.environ, **env}
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__, as the server stops
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            self._command, cwd=ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not self._healthy():
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = self._log_tail()
                self.__exit__(None, None, None)
                raise RuntimeError(f"{self.name} did not start:\n{tail}")
            time.sleep(0.1)  # polling for the port to open, with a deadline
        self._stats = psutil.Process(self._process.pid)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._log.close()

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + self._health, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def cpu_seconds(self) -> float:
        times = self._stats.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self._stats.memory_info().rss)

    def _log_tail(self, chars: int = 3000) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-chars:]


def our_server(env: Mapping[str, str]) -> ServerProcess:
    command = [sys.executable, "-m", "uvicorn", "bench.servers:create_bench_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", "{port}"]
    return ServerProcess("our SSE API", command, "/healthz", {**UNLIMITED, **env})


def adk_server(env: Mapping[str, str], db: Path | None = None) -> ServerProcess:
    """ADK's own server on the bench agent; sessions in SQLite at `db` (its SqliteSessionService)."""
    sessions = "memory://" if db is None else f"sqlite:///{db}"
    command = [str(ADK), "api_server", str(ROOT / "bench" / "agents"), "--host", "127.0.0.1", "--port", "{port}"]
    command += ["--session_service_uri", sessions, "--artifact_service_uri", "memory://", "--auto_create_session"]
    return ServerProcess("adk api_server", command, "/list-apps", env)
