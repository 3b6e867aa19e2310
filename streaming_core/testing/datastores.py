"""Real Redis and PostgreSQL servers for tests and benchmarks: each on a free 127.0.0.1 port,
with its data in a temporary directory, stopped (and its data removed) on exit.

PostgreSQL refuses to run as root, so as root the server runs as the unprivileged `postgres`
user (Debian's packages create it). Nothing here assumes a server is already running.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self

from streaming_core.errors import ConfigurationError

POSTGRES_USER = "postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _binary(name: str, hint: str) -> str:
    found = shutil.which(name) or next(
        (str(path) for path in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise ConfigurationError(f"{name} is not installed; {hint}")
    return found


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before it accepted connections")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # polling a port with a deadline, not synchronizing on time
    raise RuntimeError(f"{what} did not accept connections on port {port} within {timeout_s:.0f} s")


class RedisServer:
    """`redis-server` on a free port, no persistence, for one test session or benchmark."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> None:
        binary = _binary(
            "redis-server", "run `make test` (it installs Debian's redis-server) or apt-get install redis-server."
        )
        self._directory = tempfile.TemporaryDirectory(prefix="redis-")
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._directory.name, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port, self._process, 10, "redis-server")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._process = None
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None

    def restart(self) -> None:
        """Stops and starts the server on the same port: every connection drops, all data is gone."""
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-request, as a crashed one does."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class PostgresServer:
    """A throw-away PostgreSQL cluster (initdb) on a free port with one database, `lab`.

    `url` is SQLAlchemy's asyncpg form, as ADK's DatabaseSessionService takes it.
    `settings` adds server settings (`{"shared_preload_libraries": "pg_stat_statements"}`).
    """

    database = "lab"

    def __init__(
        self, port: int | None = None, data_parent: Path | None = None, settings: dict[str, str] | None = None
    ) -> None:
        self.port = port or free_port()
        self.settings = settings or {}  # more `-c name=value` server settings
        self.url = f"postgresql+asyncpg://{POSTGRES_USER}@127.0.0.1:{self.port}/{self.database}"
        self._data_parent = data_parent
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        self._data: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def _as_postgres(self) -> dict[str, Any]:
        """Keyword arguments for subprocess that drop root to the `postgres` user."""
        if os.getuid() != 0:
            return {}
        try:
            user = pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            raise ConfigurationError(
                "PostgreSQL refuses to run as root and there is no 'postgres' user; create one (useradd postgres)."
            ) from None
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def start(self) -> None:
        hint = "run `make test` (it installs PostgreSQL) or apt-get install postgresql."
        initdb, postgres = _binary("initdb", hint), _binary("postgres", hint)
        if self._data is None:
            self._directory = tempfile.TemporaryDirectory(prefix="postgres-", dir=self._data_parent)
            self._data = Path(self._directory.name) / "data"
            self._data.mkdir()
            privileges = self._as_postgres()
            if privileges:
                os.chown(self._directory.name, privileges["user"], privileges["group"])
                os.chown(self._data, privileges["user"], privileges["group"])
            subprocess.run(
                [initdb, "-D", str(self._data), "-U", POSTGRES_USER, "--auth=trust", "--no-sync", "-E", "UTF8"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **privileges,
            )  # fmt: skip
        self._process = subprocess.Popen(
            [postgres, "-D", str(self._data), "-p", str(self.port), "-h", "127.0.0.1", "-k", str(self._data),
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200",
             *(part for name, value in self.settings.items() for part in ("-c", f"{name}={value}"))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **self._as_postgres(),
        )  # fmt: skip
        _wait_for_port(self.port, self._process, 30, "postgres")
        self._create_database()

    def _create_database(self) -> None:
        import asyncio

        import asyncpg

        async def create() -> None:
            deadline = time.monotonic() + 15
            while True:
                try:
                    connection = await asyncpg.connect(
                        host="127.0.0.1", port=self.port, user=POSTGRES_USER, database="postgres"
                    )
                    break
                except (OSError, asyncpg.CannotConnectNowError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)
            try:
                exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.database)
                if not exists:
                    await connection.execute(f'CREATE DATABASE "{self.database}"')
            finally:
                await connection.close()

        asyncio.run(create())

    def stop(self, *, keep_data: bool = False) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # "fast" shutdown: disconnect clients, checkpoint
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        if not keep_data and self._directory is not None:
            self._directory.cleanup()
            self._directory = None
            self._data = None

    def restart(self) -> None:
        """Stops and starts the server on the same port and data: every connection drops."""
        self.stop(keep_data=True)
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
