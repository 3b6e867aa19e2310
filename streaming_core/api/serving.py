"""Runs the API on uvicorn in a process of its own (`make api`, each `make cluster` worker), with
CPython's garbage collector set for a server that streams many answers at once.

Every chunk allocates short-lived objects (google-genai and ADK pydantic models, events, SSE
frames) that are still referenced when the young generation is collected, every 700 allocations
by default; under load they are promoted, and each full collection then walks them all, plus the
few hundred thousand objects that importing ADK, google-genai and FastAPI created. At 500
concurrent Gemini answers that took 28% of the server's CPU. A larger young generation lets
them die young, and freezing what start-up built keeps full collections off it for good.
`docs/benchmarks.md` (API load) has the before and after.

The Streamlit-mounted API does not do this: that process is Streamlit's to tune.
"""

from __future__ import annotations

import gc
import socket

import uvicorn

# What `--app` serves by default: the factory `make api` runs.
DEFAULT_APP = "streaming_core.api.app:create_app"

# Allocations (net of deallocations) between young collections: enough for the objects of the
# chunks in flight at 500 streams to be released first. CPython's default is 700.
YOUNG_GENERATION_THRESHOLD = 10_000


def tune_collector_for_serving() -> None:
    """Freezes every object alive now out of the collector's reach and enlarges the young generation."""
    gc.collect()  # what start-up left as garbage is freed now rather than frozen forever
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)


def serve(config: uvicorn.Config, sockets: list[socket.socket] | None = None) -> None:
    """Builds the app of `config`, tunes the collector, then serves until a signal stops uvicorn
    (which exits with status 3 itself if the app's start-up fails)."""
    config.load()  # imports and builds the app first, so what it created is frozen too
    tune_collector_for_serving()
    uvicorn.Server(config).run(sockets=sockets)
