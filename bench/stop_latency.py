"""Time from closing the sync generator to the model call being cancelled, in the core."""

from __future__ import annotations

import time

from bench.report import Section, fmt_ms, spread_cell
from bench.stats import Spread, Target
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
        header=["case", "p50 (min–max)", "p95", "n"],
    )
    for name, config, after in [("slow first chunk (30 s)", slow_first, 0), ("mid-stream", mid_stream, 3)]:
        spread = Spread.of([_cancel_latency(config, after) for _ in range(samples)])
        section.rows.append([name, spread_cell(spread, fmt_ms), fmt_ms(spread.quantile(0.95)), str(spread.n)])
        section.targets.append(Target.check(f"{name}: p95 under 0.5 s", spread, 0.5, "at_most", fmt_ms, 0.95))
    section.notes += [
        "Judged on wall time, on where the p95 lies (with fewer than ~110 samples, that reaches the slowest): "
        "a latency is what a person waits, whatever else the machine is doing.",
        "A Stop click in the browser adds Streamlit's own delivery: the script thread sees the stop request at its "
        "next Streamlit call, at most one heartbeat (0.1 s) later while the model is silent.",
    ]
    return section
