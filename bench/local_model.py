"""Local Gemma: raw llama-cpp-python versus the same prompt through our backend, ADK and the bridge."""

from __future__ import annotations

import statistics
import time
from typing import Any

from google.adk.agents.callback_context import CallbackContext
from google.adk.models.llm_request import LlmRequest

from bench.report import Section, fmt_ms
from bench.stats import Target
from streaming_core.backends import local_gemma
from streaming_core.bridge import get_background_loop
from streaming_core.events import Done, TextDelta
from streaming_core.runtime import AssistantConfig, get_assistant
from streaming_core.sync_api import stream_turn_sync

QUESTION = "Count from 1 to 40."
MAX_TOKENS = 128


def _capture_request(config: AssistantConfig) -> LlmRequest:
    """The exact request ADK sends the model, so the raw run gets the identical prompt."""
    captured: list[LlmRequest] = []

    def record(callback_context: CallbackContext, llm_request: LlmRequest) -> None:
        captured.append(llm_request.model_copy(deep=True))

    async def set_callback(callback: Any) -> None:
        get_assistant(config).agent.before_model_callback = callback

    get_background_loop().run(lambda: set_callback(record))
    for _ in stream_turn_sync(QUESTION, config):
        pass
    get_background_loop().run(lambda: set_callback(None))
    return captured[-1]


def _ours(config: AssistantConfig) -> tuple[float, float, int]:
    start = time.perf_counter()
    first: float | None = None
    chunks = 0
    for event in stream_turn_sync(QUESTION, config):
        if isinstance(event, TextDelta):
            chunks += 1
            first = first or time.perf_counter() - start
        elif isinstance(event, Done) and event.status != "completed":
            raise RuntimeError(f"local stream ended with {event.status}")
    return first or 0.0, time.perf_counter() - start, chunks


def _raw(llama: Any, completion: local_gemma.Completion) -> tuple[float, float, int]:
    start = time.perf_counter()
    first: float | None = None
    chunks = 0
    for chunk in llama.create_completion(completion.prompt, stream=True, **completion.options):
        text = chunk["choices"][0]["text"]
        # The backend drops the answer's leading whitespace token (the space after "A:"), so
        # count from the first visible piece on both paths.
        if text.strip() or (first and text):
            chunks += 1
            first = first or time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start, chunks


def measure_local_model(repeats: int = 5) -> Section:
    config = AssistantConfig(backend="local", persistent=False, temperature=0.0, max_output_tokens=MAX_TOKENS)
    request = _capture_request(config)
    model = local_gemma.create_local_gemma()
    loaded = local_gemma._load_model(model.model_path, None)  # the same weights and threads as the backend
    # The backend's own plan for this request: prompt tokens (few-shot frame included), sampling, stops.
    completion = model.completion_for(request)
    raw_runs, our_runs = [], []
    for _ in range(repeats):  # interleaved; both reuse llama.cpp's cached prompt prefix alike
        with loaded.lock:
            raw_runs.append(_raw(loaded.llama, completion))
        our_runs.append(_ours(config))
    section = Section(
        title="2. Local Gemma end to end",
        intro=(
            f"Gemma 3 270M Q4_K_M on llama-cpp-python, identical prompt tokens and options (the backend's own plan "
            f"for ADK's captured request, {len(completion.prompt)} tokens with the few-shot frame) and sampling "
            f"(temperature 0, ≤ {MAX_TOKENS} tokens), median of {repeats} interleaved runs. Time to first token is "
            "to the first visible (non-whitespace) piece; the rate counts pieces after it, over the time after it."
        ),
        header=["path", "time to first token", "total", "pieces", "pieces/s"],
    )
    medians = {}
    for name, runs in [("raw llama-cpp-python", raw_runs), ("local backend + ADK + bridge", our_runs)]:
        first = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        pieces = statistics.median(r[2] for r in runs)
        rate = statistics.median((r[2] - 1) / (r[1] - r[0]) for r in runs if r[1] > r[0])
        medians[name] = (first, rate)
        section.rows.append([name, fmt_ms(first), f"{total:.2f} s", f"{pieces:.0f}", f"{rate:.1f}"])
    (raw_first, raw_rate), (our_first, our_rate) = medians.values()
    section.targets.append(
        Target.counted(
            f"≥ 95% of raw pieces/s (measured {our_rate / raw_rate * 100:.1f}%)", our_rate >= 0.95 * raw_rate
        )
    )
    overhead = our_first - raw_first
    section.targets.append(
        Target.counted(f"first-token overhead under 20 ms (measured {overhead * 1000:.1f} ms)", overhead < 0.020)
    )
    return section
