"""A server command in its own process on a free 127.0.0.1 port, stopped on exit and when its parent
dies: for benchmarks (CPU time and RSS of the server alone) and for tests of installed entry points."""

from __future__ import annotations

import ctypes
import os
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

from streaming_core.testing.datastores import free_port


def _die_with_parent() -> None:
    # A server must not outlive a benchmark that was killed: ask Linux to SIGTERM it then.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# Visitor quotas out of the way for servers that tests and benchmarks drive far harder than a person
# would (every request from one visitor); the quota tests set tight limits of their own.
UNLIMITED_QUOTAS = {
    "QUOTA_TURNS_PER_MINUTE": "10000",
    "QUOTA_CONCURRENT_TURNS": "1000",
    "QUOTA_TOKENS_PER_DAY": str(10**12),
    "GEMINI_DAILY_TOKEN_BUDGET": str(10**12),
}


class ServerProcess:
    """A server command on a free 127.0.0.1 port (`{port}` in the command is replaced by it), run in
    `cwd`; entering waits until `health` answers 200, leaving stops it (SIGTERM, then SIGKILL).
    Its own process, so psutil sees its CPU time and memory apart from the caller's."""

    def __init__(
        self, name: str, command: list[str], health: str, env: Mapping[str, str], *, cwd: Path | None = None
    ) -> None:
        self.name = name
        self._cwd = cwd
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._command = [part.format(port=self.port) for part in command]
        self._health = health
        self._env = {**os.environ, **env}
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__, as the server stops
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            self._command, cwd=self._cwd, env=self._env, stdout=self._log, stderr=subprocess.STDOUT,
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
