"""A host without llama-cpp-python (no compiler, no wheel): `auto` without a key falls back to the
scripted model and says why, the Local option is shown unavailable, /healthz reports it. The import
is blocked for real (`sys.modules["llama_cpp"] = None` makes every import of it fail)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse

from streaming_core.backends import GEMINI_KEY_VARIABLES, create_model, resolve_backend
from streaming_core.backends.availability import forget_failed_loads
from streaming_core.errors import BackendUnavailable
from streaming_core.settings import Settings
from streaming_core.testing.processes import ServerProcess
from tests.app.apptest import Page

BLOCK_LLAMA = "import sys\nsys.modules['llama_cpp'] = None  # as on a host where it failed to build\n"


@pytest.fixture
def no_llama(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    for name in GEMINI_KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STREAMING_BACKEND", "auto")


@pytest.mark.usefixtures("no_llama")
def test_auto_without_a_key_or_llama_cpp_resolves_to_scripted_and_local_says_why() -> None:
    choice = resolve_backend("auto", Settings())

    with pytest.raises(BackendUnavailable) as local:
        resolve_backend("local", Settings())

    assert choice.name == "scripted" and "llama-cpp-python is not installed" in choice.reason
    assert "pip install llama-cpp-python==" in str(local.value) and "GOOGLE_API_KEY" in str(local.value)


@pytest.mark.usefixtures("no_llama")
def test_the_app_without_llama_cpp_answers_with_the_scripted_model_and_shows_local_unavailable() -> None:
    page = Page("pages/4_progress.py")

    page.submit("Does the demo still work?")

    captions = [caption.value for caption in page.at.sidebar.caption]
    backend = page.at.sidebar.radio(key="backend")
    assert not page.at.exception
    assert page.at.session_state["page_context"].backend == "scripted"
    assert any(c.startswith("Auto: no API key and no local model") and "pip install" in c for c in captions)
    assert "Local Gemma 3 270M (unavailable)" in backend.options
    assert page.markdown_containing("You asked: Does the demo still work?")


def test_the_api_without_llama_cpp_reports_it_in_healthz_and_answers_with_scripted(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(BLOCK_LLAMA)
    env = {
        "PYTHONPATH": f"{tmp_path}:{Path.cwd()}",
        "STREAMING_BACKEND": "auto",
        "SESSION_DB": str(tmp_path / "sessions.db"),
        **{name: "" for name in GEMINI_KEY_VARIABLES},
    }
    command = [sys.executable, "-m", "uvicorn", "streaming_core.api.app:create_app", "--factory", "--port", "{port}"]
    with ServerProcess("API without llama_cpp", command, "/healthz", env) as server:
        health = httpx.get(f"{server.url}/healthz").json()
        with (
            httpx.Client(timeout=30) as client,
            connect_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "hello"}) as source,
        ):
            events = list(source.iter_sse())
    text = "".join(json.loads(e.data)["text"] for e in events if e.event == "message" and e.data != "[DONE]")
    [done] = [json.loads(e.data) for e in events if e.event == "done"]

    assert health["backend"] == "scripted"
    assert health["local_model"]["available"] is False
    assert "llama-cpp-python is not installed" in health["local_model"]["reason"]
    assert text.startswith("You asked: hello") and done["status"] == "completed"


def test_a_failed_load_is_remembered_so_auto_falls_back_until_it_is_fixed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the model directory should be")
    settings = Settings(local_model_dir=blocker / "models")

    with pytest.raises(BackendUnavailable) as failed:
        create_model("local", settings)
    choice = resolve_backend("auto", settings)
    forget_failed_loads()
    after_fix = resolve_backend("auto", settings)

    assert "cannot write the model" in str(failed.value)
    assert choice.name == "scripted" and "cannot write the model" in choice.reason
    assert after_fix.name == "local"
