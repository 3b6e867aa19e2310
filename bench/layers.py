"""Per-chunk cost of each layer, side by side on the zero-delay scripted model."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.models.llm_request import LlmRequest
from google.genai import types
from httpx_sse import connect_sse

from bench.report import Section, fmt_us
from bench.servers import ServerProcess, our_server, reply_env
from bench.sse_clients import OURS
from bench.stats import Target
from streaming_core.assistant import TELEMETRY
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.bridge import get_background_loop
from streaming_core.events import TextDelta
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.settings import load_settings
from streaming_core.sync_api import stream_turn_sync

API_LAYER = "+ SSE API to an httpx-sse client (uvicorn process)"


def _config(chunks: int) -> AssistantConfig:
    return AssistantConfig(
        backend="scripted", persistent=False, script=(ScriptedReply(text="x" * chunks, chunk_size=1),)
    )


def _message(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def raw_model(chunks: int) -> int:
    model = ScriptedLlm(replies=(ScriptedReply(text="x" * chunks, chunk_size=1),))
    request = LlmRequest(contents=[_message("go")])
    return len([response async for response in model.generate_content_async(request, stream=True) if response.partial])


async def adk_runner(chunks: int) -> int:
    assistant = build_assistant(_config(chunks), load_settings())
    session = await assistant.session_service.create_session(app_name=assistant.app_name, user_id="bench")
    events = assistant.runner.run_async(
        user_id="bench",
        session_id=session.id,
        new_message=_message("go"),
        # The run configuration our Turn uses, so the next rows add only our layers.
        run_config=RunConfig(streaming_mode=StreamingMode.SSE, telemetry=TELEMETRY),
    )
    return len([event async for event in events if event.partial])


async def normalized(chunks: int) -> int:
    assistant = build_assistant(_config(chunks), load_settings())
    return len([event async for event in assistant.stream_turn("go") if isinstance(event, TextDelta)])


def bridged(chunks: int) -> int:
    config = _config(chunks)
    return sum(1 for event in stream_turn_sync("go", config, heartbeat=1.0) if isinstance(event, TextDelta))


class ApiLayer:
    """One answer from our SSE API in its uvicorn process, read by an httpx-sse client here
    (not sharing the API's GIL, as in production); keeps the server's CPU time per run."""

    def __init__(self, server: ServerProcess, client: httpx.Client) -> None:
        self.server = server
        self.client = client
        self.cpu_s: list[float] = []

    def __call__(self) -> int:
        request = OURS.request(0)
        cpu = self.server.cpu_seconds()
        with connect_sse(self.client, request.method, self.server.url + request.path, **request.options) as source:
            counted = sum(1 for event in source.iter_sse() if OURS.classify(event) == "chunk")
        self.cpu_s.append(self.server.cpu_seconds() - cpu)
        return counted


def _timed(run: Callable[[], int], chunks: int) -> float:
    start = time.perf_counter()
    counted = run()
    elapsed = time.perf_counter() - start
    if counted != chunks:
        raise RuntimeError(f"expected {chunks} chunks, counted {counted}")
    return elapsed


def measure_layers(chunks: int, repeats: int = 3) -> Section:
    with our_server(reply_env(chunks, 1, 0.0)) as server, httpx.Client(timeout=120) as client:
        return _measure(chunks, repeats, ApiLayer(server, client))


def _measure(chunks: int, repeats: int, api: ApiLayer) -> Section:
    loop = get_background_loop()
    layers: dict[str, Callable[[], int]] = {
        "raw model async generator": lambda: loop.run(lambda: raw_model(chunks)),
        "ADK Runner.run_async (SSE)": lambda: loop.run(lambda: adk_runner(chunks)),
        "+ normalization, metrics, session (Assistant.stream_turn)": lambda: loop.run(lambda: normalized(chunks)),
        "+ sync bridge (stream_turn_sync)": lambda: bridged(chunks),
        API_LAYER: api,
    }
    _timed(layers["+ sync bridge (stream_turn_sync)"], chunks)  # warm imports and ADK caches
    _timed(api, chunks)  # and the server's: its first request builds the agent
    samples: dict[str, list[float]] = {name: [] for name in layers}
    for _ in range(repeats):  # interleaved, so machine noise hits every layer alike
        for name, run in layers.items():
            samples[name].append(_timed(run, chunks))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    adk = medians["ADK Runner.run_async (SSE)"]
    section = Section(
        title="1. Layer overhead",
        intro=(
            f"Scripted model with zero delay, {chunks:,} one-character chunks, median of {repeats} interleaved runs. "
            "Overhead is relative to ADK's own runner. The SSE API row runs `create_app` on a real uvicorn in its "
            "own process (the API's whole path, normalization included, but not the sync bridge) and times one "
            "`GET /chat/stream` read to `[DONE]` by a sync httpx-sse client in this process that decodes every "
            "event: server and client overlap on the 2 cores, as a deployed server and its client would."
        ),
        header=["layer", "total", "per chunk", "vs ADK runner"],
    )
    for name, seconds in medians.items():
        section.rows.append([name, f"{seconds:.3f} s", fmt_us(seconds / chunks), f"{(seconds / adk - 1) * 100:+.1f}%"])
    ours = medians["+ sync bridge (stream_turn_sync)"] / adk - 1
    section.targets.append(
        Target.counted(f"normalization + bridge add ≤ 5% to the ADK runner (measured {ours * 100:+.1f}%)", ours <= 0.05)
    )
    api_overhead = medians[API_LAYER] / adk - 1
    section.targets.append(
        Target.counted(f"the SSE API adds ≤ 25% (measured {api_overhead * 100:+.1f}%)", api_overhead <= 0.25)
    )
    server_cpu = statistics.median(api.cpu_s[1:])  # the first was the warm-up
    section.notes.append(
        f"The SSE API's server process spent {fmt_us(server_cpu / chunks)} of CPU per chunk (median) for "
        f"{fmt_us(medians[API_LAYER] / chunks)} of wall time: where they match, the server set the pace, not the "
        "client. Where that CPU goes (pyinstrument, when this row was added): about two thirds in ADK's Runner; "
        "a fifth in the response path, which makes one ASGI message, h11 frame and socket write per event "
        "(sse-starlette, Starlette middleware, uvicorn; a stuck client is caught by one watchdog timer per "
        "response, not a timeout per send); the rest our run task, normalization and SSE encoding."
    )
    return section
