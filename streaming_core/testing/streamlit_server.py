"""`streamlit run app.py` on a free 127.0.0.1 port for browser tests; stops itself on exit.

The demo (app.py, pages/, ui/) is app code run from a checkout, not part of the installed package:
the server runs in `checkout`, by default the working directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from streaming_core.backends import GEMINI_KEY_VARIABLES
from streaming_core.errors import ConfigurationError
from streaming_core.testing.datastores import free_port

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0


def streamlit_command() -> list[str]:
    """The venv's `streamlit` script next to this interpreter, else `python -m streamlit`."""
    script = Path(sys.executable).with_name("streamlit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "streamlit"]


class StreamlitServer:
    """The demo on the scripted backend with its own SQLite session file under `workdir`, `env` added."""

    def __init__(self, workdir: Path, env: Mapping[str, str] | None = None, *, checkout: Path | None = None) -> None:
        self.checkout = checkout or Path.cwd()
        if not (self.checkout / "app.py").is_file():
            raise ConfigurationError(f"no app.py in {self.checkout}: run from the project's checkout or pass checkout=")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "streamlit.log"
        self._env = {k: v for k, v in os.environ.items() if k not in GEMINI_KEY_VARIABLES}
        self._env.update(
            {"STREAMING_BACKEND": "scripted", "SESSION_DB": str(workdir / "sessions.db"), "PYTHONUNBUFFERED": "1"}
        )
        self._env.update(env or {})
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> StreamlitServer:
        command = [
            *streamlit_command(),
            "run",
            "app.py",
            "--server.address=127.0.0.1",
            f"--server.port={self.port}",
            "--server.headless=true",
            "--server.fileWatcherType=none",
            "--browser.gatherUsageStats=false",
        ]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command, cwd=self.checkout, env=self._env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)  # its own session: only streamlit and its children
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(_STOP_TIMEOUT_S)

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet
            time.sleep(0.1)  # polling the health endpoint with a deadline
        raise RuntimeError(f"streamlit was not healthy within {_START_TIMEOUT_S:.0f} s:\n{self.log_tail()}")
