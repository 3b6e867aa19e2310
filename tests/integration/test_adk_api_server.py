"""ADK's own server serves our agent: `adk api_server agents` and its /run_sse stream the answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from streaming_core.testing.datastores import free_port

ROOT = Path(__file__).resolve().parents[2]
ADK = Path(sys.executable).parent / "adk"
APP = "streaming_assistant"


@pytest.fixture(scope="module")
def adk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not ADK.exists():
        pytest.skip(f"{ADK} is missing; install google-adk")
    port = free_port()
    log = tmp_path_factory.mktemp("adk") / "api_server.log"
    # ADK imports agents/ by path and streaming_core by name: from this checkout, whatever is installed.
    env = {**os.environ, "STREAMING_BACKEND": "scripted", "PYTHONPATH": str(ROOT)}
    command = [str(ADK), "api_server", "agents", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--session_service_uri", "memory://", "--artifact_service_uri", "memory://"]  # no .adk/ files
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"adk api_server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"adk api_server did not start:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/list-apps", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)  # polling for the port to open, with a deadline
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_adk_api_server_lists_our_agent(adk_server: str) -> None:
    assert APP in httpx.get(f"{adk_server}/list-apps").json()


def test_adk_run_sse_streams_our_agents_answer_once(adk_server: str) -> None:
    session = httpx.post(f"{adk_server}/apps/{APP}/users/u1/sessions", json={}).json()
    body = {
        "app_name": APP,
        "user_id": "u1",
        "session_id": session["id"],
        "new_message": {"role": "user", "parts": [{"text": "Hello ADK"}]},
        "streaming": True,
    }

    with httpx.Client(timeout=30) as client, connect_sse(client, "POST", f"{adk_server}/run_sse", json=body) as source:
        events = [json.loads(sse.data) for sse in source.iter_sse()]

    def text(event: dict[str, Any]) -> str:
        parts = (event.get("content") or {}).get("parts") or []
        return "".join(part.get("text", "") for part in parts)

    partials = [text(e) for e in events if e.get("partial")]
    finals = [text(e) for e in events if not e.get("partial") and text(e)]
    assert len(partials) > 1
    assert finals == ["".join(partials)]
    assert finals[0].startswith("You asked: Hello ADK")
    history = httpx.get(f"{adk_server}/apps/{APP}/users/u1/sessions/{session['id']}").json()
    assert [text(e) for e in history["events"]] == ["Hello ADK", finals[0]]
