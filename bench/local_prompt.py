"""Local Gemma: what the few-shot prompt frame costs the first token, raw llama.cpp, same question.

Cold: nothing cached (a process's first request). Warm: the previous request used the same frame,
so llama.cpp reuses the cached preamble and examples and reads only the conversation.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from google.adk.models.llm_request import LlmRequest
from google.genai import types

from bench.report import Section, fmt_ms
from bench.stats import Spread, Target, repeat_interleaved
from streaming_core.agent import INSTRUCTION
from streaming_core.backends import local_gemma
from streaming_core.backends.gemma_prompt import BARE, DEFAULT_FRAME, PromptFrame

QUESTION, OTHER_QUESTION = "Count to 10", "What is the capital of France?"


def _request(text: str) -> LlmRequest:
    return LlmRequest(
        contents=[types.Content(role="user", parts=[types.Part(text=text)])],
        config=types.GenerateContentConfig(system_instruction=INSTRUCTION, temperature=0.0, max_output_tokens=1),
    )


def _first_token_s(llama: Any, completion: local_gemma.Completion) -> float:
    started = time.perf_counter()
    for _ in llama.create_completion(completion.prompt, stream=True, **completion.options):
        break  # max_output_tokens=1: the one token is the first
    return time.perf_counter() - started


def measure_local_prompt() -> Section:
    model = local_gemma.create_local_gemma()
    loaded = local_gemma._load_model(model.model_path, None)  # the backend's own weights and threads
    frames: dict[str, PromptFrame] = {"bare (before issue 16)": BARE, f"{DEFAULT_FRAME.name} (default)": DEFAULT_FRAME}
    questions = (QUESTION, OTHER_QUESTION)
    plans = {
        name: [model.model_copy(update={"frame": frame}).completion_for(_request(q)) for q in questions]
        for name, frame in frames.items()
    }

    def cold(name: str) -> float:
        loaded.llama.reset()
        return _first_token_s(loaded.llama, plans[name][0])

    def warm(name: str) -> float:
        _first_token_s(loaded.llama, plans[name][1])  # caches the frame, not this question
        return _first_token_s(loaded.llama, plans[name][0])

    runs: dict[str, Callable[[], float]] = {
        f"{name}|{kind.__name__}": functools.partial(kind, name) for name in frames for kind in (cold, warm)
    }
    with loaded.lock:
        spreads = repeat_interleaved(runs, min_repeats=7, max_repeats=15, budget_s=90)
    section = Section(
        title="Local Gemma prompt frame",
        intro=(
            f"Raw llama-cpp-python, time to the first token of `{QUESTION}` with the agent's instruction, per prompt "
            "frame. Cold: empty cache (llama.reset()). Warm: the previous request used the same frame, so only the "
            "conversation is read. Interleaved repetitions."
        ),
        header=["frame", "prompt tokens", "first token, cold", "first token, warm"],
    )
    for name in frames:
        c, w = spreads[f"{name}|cold"], spreads[f"{name}|warm"]
        section.rows.append([name, str(len(plans[name][0].prompt)), c.format(fmt_ms), w.format(fmt_ms)])
    bare, default = frames
    extra = Spread.of(
        [d - b for d, b in zip(spreads[f"{default}|warm"].samples, spreads[f"{bare}|warm"].samples, strict=True)]
    )
    section.targets.append(
        Target.check("the default frame adds under 20 ms to a warm first token", extra, 0.020, "at_most", fmt_ms)
    )
    budget = local_gemma.N_CTX - local_gemma.DEFAULT_MAX_OUTPUT_TOKENS
    longest = max(len(plan[0].prompt) for plan in plans.values())
    section.targets.append(
        Target.counted(f"a one-question prompt ({longest} tokens) leaves the answer its budget", longest <= budget)
    )
    return section
