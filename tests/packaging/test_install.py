"""The project installs as a package: `pip install .` into a fresh venv, outside the checkout, gives
a working `streaming_core` and a working API with its browser client (package data).

Slow (a minute or more: every dependency comes from pip's wheel cache); deselect with -m "not packaging".
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streaming_core.backends.scripted import DEFAULT_TEXT
from streaming_core.testing.processes import ServerProcess
from streaming_core.testing.sse import SseReply, read_sse

# The install may download every dependency on a machine with an empty pip cache.
pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1500)]
ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Does the installed API stream?"


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the project installed (no `local` extra: no compiler needed). Installed
    from a copy holding only pyproject.toml and the package, so nothing else in the checkout can
    leak in and the build leaves no files behind in the checkout."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "streaming_core", source / "streaming_core", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    python = work / "venv" / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)]
    installed = subprocess.run(pip, cwd=work, capture_output=True, text=True, timeout=1200)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return python


def outside_env(workdir: Path) -> dict[str, str]:
    """The environment for the installed code: the scripted model, nothing from the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "STREAMING_BACKEND": "scripted", "SESSION_DB": str(workdir / "sessions.db")}


@pytest.fixture(scope="module")
def installed_api(venv_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("outside")
    command = [str(venv_python), "-m", "streaming_core.api", "--port", "{port}", "--log-level", "warning"]
    with ServerProcess("installed API", command, "/healthz", outside_env(workdir), cwd=workdir) as server:
        yield server


def test_the_installed_package_is_imported_from_the_venv_with_its_static_client(
    venv_python: Path, tmp_path: Path
) -> None:
    script = "import streaming_core.api.app as app; print(app.__file__); print(app.STATIC_DIR)"
    shown = subprocess.run(
        [str(venv_python), "-c", script], cwd=tmp_path, env=outside_env(tmp_path), capture_output=True, text=True
    )
    module, static = shown.stdout.split()

    assert shown.returncode == 0, shown.stderr
    assert Path(module).is_relative_to(venv_python.parents[1]), module
    assert {"index.html", "client.js"} <= {path.name for path in Path(static).iterdir()}


def test_the_installed_api_serves_its_client_page(installed_api: ServerProcess) -> None:
    page = httpx.get(f"{installed_api.url}/")
    script = httpx.get(f"{installed_api.url}/static/client.js")

    assert page.status_code == 200 and '<script src="static/client.js"></script>' in page.text
    assert script.status_code == 200 and "EventSource" in script.text


def test_the_installed_api_streams_a_scripted_answer(installed_api: ServerProcess) -> None:
    async def ask() -> SseReply:
        async with httpx.AsyncClient(timeout=60) as client:
            return await read_sse(client, "POST", f"{installed_api.url}/chat/stream", json={"query": QUESTION})

    reply = asyncio.run(ask())

    assert reply.status_code == 200
    assert reply.text == DEFAULT_TEXT.format(message=QUESTION)
    assert len([e for e in reply.events if e.event == "message"]) > 2  # in chunks, not one piece
    assert [done["status"] for done in reply.named("done")] == ["completed"]
    assert httpx.get(f"{installed_api.url}/healthz").json()["backend"] == "scripted"
