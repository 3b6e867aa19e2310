"""Per-chunk cost of each layer, side by side on the zero-delay scripted model."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.models.llm_request import LlmRequest
from google.genai import types

from bench.report import Section, fmt_us
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.bridge import get_background_loop
from streaming_core.events import TextDelta
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.settings import load_settings
from streaming_core.sync_api import stream_turn_sync


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
        run_config=RunConfig(streaming_mode=StreamingMode.SSE),
    )
    return len([event async for event in events if event.partial])


async def normalized(chunks: int) -> int:
    assistant = build_assistant(_config(chunks), load_settings())
    return len([event async for event in assistant.stream_turn("go") if isinstance(event, TextDelta)])


def bridged(chunks: int) -> int:
    config = _config(chunks)
    return sum(1 for event in stream_turn_sync("go", config, heartbeat=1.0) if isinstance(event, TextDelta))


def _timed(run: Callable[[], int], chunks: int) -> float:
    start = time.perf_counter()
    counted = run()
    elapsed = time.perf_counter() - start
    if counted != chunks:
        raise RuntimeError(f"expected {chunks} chunks, counted {counted}")
    return elapsed


def measure_layers(chunks: int, repeats: int = 3, extra: dict[str, Callable[[], int]] | None = None) -> Section:
    loop = get_background_loop()
    layers: dict[str, Callable[[], int]] = {
        "raw model async generator": lambda: loop.run(lambda: raw_model(chunks)),
        "ADK Runner.run_async (SSE)": lambda: loop.run(lambda: adk_runner(chunks)),
        "+ normalization, metrics, session (Assistant.stream_turn)": lambda: loop.run(lambda: normalized(chunks)),
        "+ sync bridge (stream_turn_sync)": lambda: bridged(chunks),
        **(extra or {}),
    }
    _timed(layers["+ sync bridge (stream_turn_sync)"], chunks)  # warm imports and ADK caches
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
            "Overhead is relative to ADK's own runner."
        ),
        header=["layer", "total", "per chunk", "vs ADK runner"],
    )
    for name, seconds in medians.items():
        section.rows.append([name, f"{seconds:.3f} s", fmt_us(seconds / chunks), f"{(seconds / adk - 1) * 100:+.1f}%"])
    ours = medians["+ sync bridge (stream_turn_sync)"] / adk - 1
    section.targets.append(
        (f"normalization + bridge add ≤ 5% to the ADK runner (measured {ours * 100:+.1f}%)", ours <= 0.05)
    )
    api_name = next((name for name in medians if name.startswith("+ SSE API")), None)
    if api_name:
        api = medians[api_name] / adk - 1
        section.targets.append((f"the SSE API adds ≤ 25% (measured {api * 100:+.1f}%)", api <= 0.25))
    return section
