"""The API's own server processes (`make api`, `make cluster` workers): the collector is set for
serving before the first request, and a start-up that fails still exits with uvicorn's failure status."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import httpx

from streaming_core.api.serving import YOUNG_GENERATION_THRESHOLD, tune_collector_for_serving
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.testing.cluster import ROOT, Cluster, Stores
from streaming_core.testing.datastores import free_port

WORKER_APP = "streaming_core.testing.cluster:create_worker_app"


def test_a_worker_serves_with_start_up_frozen_and_a_larger_young_generation(tmp_path: Path) -> None:
    stores = Stores(run_store_url="", session_service_uri=f"sqlite:///{tmp_path / 'sessions.db'}")
    with Cluster((ScriptedReply(text="hi"),), stores, workers=1) as cluster:
        collector = httpx.get(f"{cluster.workers[0].url}/testing/collector", timeout=10).json()

    assert collector["threshold"][0] == YOUNG_GENERATION_THRESHOLD
    # ADK, google-genai, pydantic and FastAPI leave a few hundred thousand objects behind at import.
    assert collector["frozen"] > 100_000


def test_tuning_frees_start_up_garbage_rather_than_freezing_it() -> None:
    threshold = gc.get_threshold()

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    garbage = weakref.ref(Cycle())  # unreachable, but alive until a collection finds the cycle
    try:
        tune_collector_for_serving()
        assert garbage() is None
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_a_start_up_that_fails_exits_with_uvicorns_start_up_failure_status() -> None:
    unreachable = f"postgresql+asyncpg://lab@127.0.0.1:{free_port()}/lab"  # nothing listens there
    env = {**os.environ, "STREAMING_BACKEND": "scripted", "RUN_STORE_URL": "", "SESSION_SERVICE_URI": unreachable}
    for module in ("streaming_core.api", "streaming_core.api.worker"):
        command = [sys.executable, "-m", module, "--port", str(free_port()), "--app", WORKER_APP]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

        assert result.returncode == 3, result.stderr[-2000:]
        assert "Application startup failed" in result.stderr
