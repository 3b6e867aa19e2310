"""Time from closing the sync generator to the model call being cancelled, in the core."""

from __future__ import annotations

import statistics
import time

from bench.report import Section, fmt_ms
from bench.stats import Target
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply, ScriptLog
from streaming_core.bridge import get_background_loop
from streaming_core.events import Heartbeat, TextDelta
from streaming_core.runtime import AssistantConfig, get_assistant
from streaming_core.sync_api import stream_turn_sync


def _cancel_latency(config: AssistantConfig, after_chunks: int) -> float:
    stream = stream_turn_sync("go", config, heartbeat=0.05)
    seen = 0
    for event in stream:
        if isinstance(event, TextDelta):
            seen += 1
        if seen >= after_chunks and (after_chunks or isinstance(event, Heartbeat)):
            break
    log = get_background_loop().run(lambda: _log(config))
    cancelled_before = log.cancelled
    start = time.perf_counter()
    stream.close()  # returns once the async side has finished its cleanup
    elapsed = time.perf_counter() - start
    if log.cancelled != cancelled_before + 1:
        raise RuntimeError("the model call was not cancelled")
    return elapsed


async def _log(config: AssistantConfig) -> ScriptLog:
    model = get_assistant(config).agent.model
    assert isinstance(model, ScriptedLlm)
    return model.log


def measure_stop_latency(samples: int = 20) -> Section:
    slow_first = AssistantConfig(backend="scripted", persistent=False, script=(ScriptedReply(first_chunk_delay=30),))
    mid_stream = AssistantConfig(backend="scripted", persistent=False, script=(ScriptedReply(chunk_delay=0.05),))
    section = Section(
        title="5. Stop latency (core)",
        intro=(
            "From closing the sync generator (what Streamlit's Stop and reruns do) until the scripted model has seen "
            f"its cancellation and the partial answer is saved; {samples} samples each."
        ),
        header=["case", "p50", "p95", "max"],
    )
    worst = 0.0
    for name, config, after in [("slow first chunk (30 s)", slow_first, 0), ("mid-stream", mid_stream, 3)]:
        values = sorted(_cancel_latency(config, after) for _ in range(samples))
        p95 = values[int(0.95 * (len(values) - 1))]
        worst = max(worst, p95)
        section.rows.append([name, fmt_ms(statistics.median(values)), fmt_ms(p95), fmt_ms(values[-1])])
    section.targets.append(Target.counted(f"p95 under 0.5 s (measured {worst * 1000:.1f} ms)", worst < 0.5))
    section.notes.append(
        "A Stop click in the browser adds Streamlit's own delivery: the script thread sees the stop request at its "
        "next Streamlit call, at most one heartbeat (0.1 s) later while the model is silent."
    )
    return section
