"""Servers for the API benchmarks, each in its own process so psutil can see its CPU and RSS:
our SSE API (`create_bench_app`) and ADK's `adk api_server` (bench/agents), on the same agent."""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI

from streaming_core.api.app import create_app
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.runtime import AssistantConfig
from streaming_core.testing.processes import UNLIMITED_QUOTAS, ServerProcess
from streaming_core.tools import DEMO_TOOLS

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
    SESSION_DB names the SQLite file (`store_env`); BENCH_COALESCE=0 turns the model seam's
    coalescing off (every scripted chunk its own event)."""
    chunks, chars = int(env["BENCH_REPLY_CHUNKS"]), int(env["BENCH_REPLY_CHARS"])
    reply = ScriptedReply(text="x" * (chunks * chars), chunk_size=chars, chunk_delay=float(env["BENCH_REPLY_DELAY"]))
    backend = env.get("BENCH_BACKEND", "scripted")
    return AssistantConfig(
        backend=backend,
        tools=DEMO_TOOLS,
        script=(reply,),
        persistent="SESSION_DB" in env,
        coalesce=env.get("BENCH_COALESCE", "1") != "0",
    )


def store_env(db: Path | None) -> dict[str, str]:
    """How the benchmark tells our server its session store: SQLite at `db`, in memory when None."""
    return {} if db is None else {"SESSION_DB": str(db)}


def create_bench_app() -> FastAPI:
    """`uvicorn bench.servers:create_bench_app --factory`: `make api`'s app on the bench agent."""
    return create_app(bench_config())


def raise_fd_limit(needed: int) -> None:
    """Raises this process's soft limit on open files; servers started after inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def our_server(env: Mapping[str, str]) -> ServerProcess:
    command = [sys.executable, "-m", "uvicorn", "bench.servers:create_bench_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", "{port}"]
    return ServerProcess("our SSE API", command, "/healthz", {**UNLIMITED, **UNLIMITED_QUOTAS, **env}, cwd=ROOT)


def adk_server(env: Mapping[str, str], db: Path | None = None) -> ServerProcess:
    """ADK's own server on the bench agent; sessions in SQLite at `db` (its SqliteSessionService)."""
    sessions = "memory://" if db is None else f"sqlite:///{db}"
    command = [str(ADK), "api_server", str(ROOT / "bench" / "agents"), "--host", "127.0.0.1", "--port", "{port}"]
    command += ["--session_service_uri", sessions, "--artifact_service_uri", "memory://", "--auto_create_session"]
    # ADK imports the agent by path; its `bench.servers` import needs the checkout on the path.
    return ServerProcess("adk api_server", command, "/list-apps", {**env, "PYTHONPATH": _python_path()}, cwd=ROOT)


def _python_path() -> str:
    inherited = os.environ.get("PYTHONPATH", "")
    return f"{ROOT}{os.pathsep}{inherited}" if inherited else str(ROOT)
