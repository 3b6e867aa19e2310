"""Servers for the API benchmarks, each in its own process so psutil can see its CPU and RSS:
our SSE API (`create_bench_app`, one process or workers on one port) and ADK's `adk api_server`
(bench/agents), on the same agent; the fake Gemini they may call; the CPU of Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Protocol, Self

import asyncpg
import psutil
from fastapi import FastAPI

from streaming_core.api.app import create_app
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.runtime import AssistantConfig
from streaming_core.testing.datastores import POSTGRES_USER, PostgresServer, free_port
from streaming_core.testing.processes import UNLIMITED_QUOTAS, ServerProcess
from streaming_core.tools import DEMO_TOOLS

ROOT = Path(__file__).resolve().parent.parent
ADK = Path(sys.executable).parent / "adk"
ADK_APP = "streaming_assistant"  # the directory name under bench/agents
CHUNK_CHARS = 10  # the load benchmarks' models send chunks of this many characters
# Admission limits out of the way: every stream comes from one client, 127.0.0.1.
UNLIMITED = {"API_MAX_STREAMS_PER_CLIENT": "100000", "API_RATE_PER_MINUTE": "1000000", "API_MAX_RUNS": "100000"}


def reply_env(chunks: int, chars: int, delay: float) -> dict[str, str]:
    """How the benchmark tells a server process its scripted reply."""
    return {"BENCH_REPLY_CHUNKS": str(chunks), "BENCH_REPLY_CHARS": str(chars), "BENCH_REPLY_DELAY": str(delay)}


def bench_config(env: Mapping[str, str] = os.environ) -> AssistantConfig:
    """The agent both servers run: the API's own tools and the scripted reply from `reply_env`, or
    Gemini (`BENCH_BACKEND=gemini`, at GOOGLE_GEMINI_BASE_URL); sessions in memory unless
    SESSION_DB names the SQLite file (`store_env`) or SESSION_SERVICE_URI a store; BENCH_COALESCE=0
    turns the model seam's coalescing off (every scripted chunk its own event)."""
    chunks, chars = int(env["BENCH_REPLY_CHUNKS"]), int(env["BENCH_REPLY_CHARS"])
    reply = ScriptedReply(text="x" * (chunks * chars), chunk_size=chars, chunk_delay=float(env["BENCH_REPLY_DELAY"]))
    backend = env.get("BENCH_BACKEND", "scripted")
    return AssistantConfig(
        backend=backend,
        tools=DEMO_TOOLS,
        script=(reply,),
        persistent="SESSION_DB" in env or "SESSION_SERVICE_URI" in env,
        coalesce=env.get("BENCH_COALESCE", "1") != "0",
    )


def store_env(db: Path | None) -> dict[str, str]:
    """How the benchmark tells our server its session store: SQLite at `db`, in memory when None."""
    return {} if db is None else {"SESSION_DB": str(db)}


def create_bench_app() -> FastAPI:
    """`python -m streaming_core.api --app bench.servers:create_bench_app`: `make api`'s app on the bench agent."""
    return create_app(bench_config())


def raise_fd_limit(needed: int) -> None:
    """Raises this process's soft limit on open files; servers started after inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def our_server(env: Mapping[str, str]) -> ServerProcess:
    """Our API on the bench agent, started as `make api` starts it (its collector set for serving)."""
    command = [sys.executable, "-m", "streaming_core.api", "--app", "bench.servers:create_bench_app"]
    command += ["--host", "127.0.0.1", "--port", "{port}"]
    return ServerProcess("our SSE API", command, "/healthz", {**UNLIMITED, **UNLIMITED_QUOTAS, **env}, cwd=ROOT)


class Workers:
    """`count` API worker processes (`streaming_core.api.worker`) sharing one port, as `make cluster`
    runs them; each also listens on a private port, where its health is polled and it can be warmed."""

    def __init__(self, env: Mapping[str, str], count: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "streaming_core.api.worker", "--port", str(self.port),
                   "--private-port", "{port}", "--app", "bench.servers:create_bench_app"]  # fmt: skip
        env = {**UNLIMITED, **UNLIMITED_QUOTAS, **env}
        self.processes = [ServerProcess(f"API worker {n}", command, "/healthz", env, cwd=ROOT) for n in range(count)]
        self._stack = ExitStack()

    def __enter__(self) -> Self:
        with ExitStack() as stack:
            for process in self.processes:
                stack.enter_context(process)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def cpu_seconds(self) -> float:
        return sum(process.cpu_seconds() for process in self.processes)

    def rss(self) -> int:
        return sum(process.rss() for process in self.processes)


class CpuMeter(Protocol):
    """Something whose CPU time so far can be read, in seconds."""

    def cpu_seconds(self) -> float: ...


class ListeningServer:
    """CPU time of the server process listening on `port` and of its children, living and reaped
    (PostgreSQL runs a backend process per connection)."""

    def __init__(self, port: int) -> None:
        pids = {c.pid for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
        if len(pids) != 1 or None in pids:
            raise RuntimeError(f"expected one process listening on port {port}, found {pids or 'none'}")
        self._process = psutil.Process(pids.pop())

    def cpu_seconds(self) -> float:
        own = self._process.cpu_times()
        total = own.user + own.system + own.children_user + own.children_system
        for child in self._process.children(recursive=True):
            try:
                times = child.cpu_times()
            except psutil.NoSuchProcess:  # ended meanwhile: its time is in the reaped children's
                continue
            total += times.user + times.system
        return float(total)


class DatabaseBackends:
    """CPU time of the PostgreSQL backends (a process per connection) serving `database` on the
    server listening on `port`: one configuration's own statements, without the server's shared
    background work (autovacuum, WAL writer, checkpointer), which lands in whichever run is going
    when it wakes. Living backends only: it suits pools that keep their connections open."""

    def __init__(self, port: int, database: str) -> None:
        self._postmaster = ListeningServer(port)._process
        self._database = database

    def cpu_seconds(self) -> float:
        total = 0.0
        for child in self._postmaster.children():
            try:
                title = child.cmdline()  # "postgres: USER DATABASE HOST(PORT) STATE"
                if title and title[0].split()[2:3] == [self._database]:
                    times = child.cpu_times()
                    total += times.user + times.system
            except psutil.NoSuchProcess:  # a connection that closed meanwhile
                continue
        return total


def create_database(server: PostgresServer, name: str) -> str:
    """A new database `name` on `server`; its URL in the form `server.url` has (asyncpg, for ADK's service)."""

    async def create() -> None:
        connection = await asyncpg.connect(host="127.0.0.1", port=server.port, user=POSTGRES_USER, database="postgres")
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return server.url.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def fake_gemini(chunks: int, delay: float) -> Iterator[dict[str, str]]:
    """The fake Gemini answering every request with `chunks` chunks of CHUNK_CHARS characters `delay`
    s apart; yields the environment that points a server at it. Its own process, as a remote Gemini
    is: a thread of this process would share one GIL with the load client, which decodes every event
    of the server it measures, and pace each server's answers by that server's events."""
    command = [sys.executable, "-m", "streaming_core.testing.fake_gemini", "--port", "{port}",
               "--chunks", str(chunks), "--chunk-chars", str(CHUNK_CHARS), "--delay", str(delay)]  # fmt: skip
    with ServerProcess("fake Gemini", command, "/healthz", {}, cwd=ROOT) as fake:
        yield {"BENCH_BACKEND": "gemini", "GOOGLE_API_KEY": "bench-key", "GOOGLE_GEMINI_BASE_URL": fake.url}


def adk_server(env: Mapping[str, str], sessions: str = "memory://") -> ServerProcess:
    """ADK's own server on the bench agent; sessions in its service for the URI `sessions`
    (`memory://`, `sqlite:///path`, `postgresql+asyncpg://...`, as its --session_service_uri takes)."""
    command = [str(ADK), "api_server", str(ROOT / "bench" / "agents"), "--host", "127.0.0.1", "--port", "{port}"]
    command += ["--session_service_uri", sessions, "--artifact_service_uri", "memory://", "--auto_create_session"]
    # ADK imports the agent by path; its `bench.servers` import needs the checkout on the path.
    return ServerProcess("adk api_server", command, "/list-apps", {**env, "PYTHONPATH": _python_path()}, cwd=ROOT)


def _python_path() -> str:
    inherited = os.environ.get("PYTHONPATH", "")
    return f"{ROOT}{os.pathsep}{inherited}" if inherited else str(ROOT)
