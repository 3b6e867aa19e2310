"""`python -m bench.soak` (`make soak`): the fault matrix on both paths, then SOAK_MINUTES (default 3)
of mixed traffic against the SSE API on loopback with the fake Gemini; writes docs/reliability.md.

The traffic, from SOAK_CLIENTS (default 4) concurrent clients: normal answers, clients that hang up
after the first chunk, and every fault of the fault table (silent models end at the turn timeout).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import astuple, replace
from pathlib import Path

import httpx

from bench.reliability_doc import Cell, SoakResult, write_reliability_doc
from bench.traffic import Traffic
from streaming_core.quotas import MemoryQuotaStore, QuotaLimiter, install_limiter, load_quota_limits
from streaming_core.testing.fake_gemini import SENTINEL_KEY, FakeGeminiServer, Scenario
from streaming_core.testing.faults import ANSWER, FAULTS, PROMPT, Fault, fault_table, outcome, problems
from streaming_core.testing.paths import API_LIMITS, PATHS, gemini_api, gemini_for_paths, observe, open_path, post_turn
from streaming_core.testing.processes import UNLIMITED_QUOTAS
from streaming_core.testing.resources import Resources, growth_after_settling, measure
from streaming_core.testing.servers import ApiServer, wait_until

DOCS = Path(__file__).resolve().parent.parent / "docs"
TURN_TIMEOUT_S = 3.0  # the soak server's turn limit: silent models reach it, answers never come close
NORMAL = Fault("normal", "8 chunks, 20 ms apart", (Scenario.reply(ANSWER, chunks=8, delay=0.02),),
               status="completed", text=ANSWER)  # fmt: skip
WARM_UP_S = 1.0
RSS_ALLOWANCE_MB = 25.0
HANDLE_ALLOWANCE = 4

Plan = Iterator[tuple[str, Fault]]
_TAGS = itertools.count()


def fault_matrix(fake: FakeGeminiServer, sessions: Path, faults: tuple[Fault, ...]) -> list[list[Cell]]:
    """Each fault on each path, checked as tests/reliability/test_faults.py checks it."""
    rows = []
    for fault in faults:
        row = []
        for path in PATHS:
            with open_path(path, fault.timeout_s, sessions) as ask:
                seen = observe(fault, fake, ask)
            row.append(Cell(outcome(fault, seen), problems(fault, seen, SENTINEL_KEY)))
        rows.append(row)
    return rows


def traffic_plan(faults: tuple[Fault, ...]) -> Plan:
    """Endless: an answer, then a fault, and a hang-up after every other fault."""
    mix: list[tuple[str, Fault]] = []
    for index, fault in enumerate(faults):
        mix += [("normal", NORMAL), (fault.name, fault)] + [("hang-up", NORMAL)] * (index % 2)
    return itertools.cycle(mix)


async def _client(server: ApiServer, fake: FakeGeminiServer, plan: Plan, deadline: float, traffic: Traffic) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        while time.monotonic() < deadline:
            kind, fault = next(plan)
            tag = f"[soak {next(_TAGS)}]"  # the fake answers this turn's requests with its own scenarios
            fake.route(tag, *fault.scenarios)
            started = time.monotonic()
            try:
                reply = await post_turn(client, server.url, f"{tag} {PROMPT}", limit=1 if kind == "hang-up" else None)
            except httpx.HTTPError as error:  # the server dropped the connection: a finding, not the end
                traffic.problems[f"{kind}: {type(error).__name__}"] += 1
                continue
            traffic.record(kind, fault, reply, started, SENTINEL_KEY)


async def _sample_peak(peak: list[Resources], every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        now = await asyncio.to_thread(measure)
        peak[0] = Resources(*(max(a, b) for a, b in zip(astuple(peak[0]), astuple(now), strict=True)))


async def _run_traffic(server: ApiServer, fake: FakeGeminiServer, plan: Plan, seconds: float, clients: int) -> Traffic:
    traffic = Traffic()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(_client(server, fake, plan, deadline, traffic) for _ in range(clients)))
    return traffic


def soak(
    fake: FakeGeminiServer,
    sessions: Path,
    seconds: float,
    *,
    clients: int = 4,
    matrix_faults: tuple[Fault, ...] = FAULTS,
    turn_timeout_s: float = TURN_TIMEOUT_S,
) -> SoakResult:
    """The fault matrix of `matrix_faults` on both paths, then `seconds` of traffic from `clients`."""
    # Visitor quotas out of the way: the soak is one visitor sending far more than a person would.
    install_limiter(QuotaLimiter(load_quota_limits(UNLIMITED_QUOTAS), MemoryQuotaStore()))
    try:
        return _soak(fake, sessions, seconds, clients, matrix_faults, turn_timeout_s)
    finally:
        install_limiter(None)


def _soak(
    fake: FakeGeminiServer,
    sessions: Path,
    seconds: float,
    clients: int,
    matrix_faults: tuple[Fault, ...],
    turn_timeout_s: float,
) -> SoakResult:
    matrix = fault_matrix(fake, sessions, matrix_faults)
    # In the traffic, slow answers come within the turn limit and silent models reach it.
    plan = traffic_plan(fault_table(slow_s=min(1.0, turn_timeout_s / 3), hang_s=turn_timeout_s))
    with gemini_api(sessions / "soak.db", replace(API_LIMITS, turn_timeout_s=turn_timeout_s)) as server:

        def no_runs() -> bool:
            return server.call(lambda: len(server.app.state.api.registry)) == 0

        asyncio.run(_run_traffic(server, fake, plan, WARM_UP_S, 1))  # pools, caches and lazy imports fill up
        wait_until(no_runs, message="the warm-up's runs to end")
        start = measure()
        closed_before = fake.disconnects
        peak = [start]

        async def traffic_and_samples() -> Traffic:
            sampler = asyncio.create_task(_sample_peak(peak, every_s=max(1.0, seconds / 60)))
            try:
                return await _run_traffic(server, fake, plan, seconds, clients)
            finally:
                sampler.cancel()

        traffic = asyncio.run(traffic_and_samples())
        wait_until(no_runs, message="every run to end")
        grown = growth_after_settling(start, rss_mb=RSS_ALLOWANCE_MB, handles=HANDLE_ALLOWANCE)
        end = measure()
        closed = fake.disconnects - closed_before
    allowance = (RSS_ALLOWANCE_MB, HANDLE_ALLOWANCE)
    return SoakResult(
        matrix_faults, matrix, traffic, seconds, clients, start, end, peak[0], grown, closed, WARM_UP_S, allowance
    )


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("google_adk").setLevel(logging.CRITICAL)  # every fault logs ADK's traceback
    minutes = float(os.environ.get("SOAK_MINUTES", "3"))
    clients = int(os.environ.get("SOAK_CLIENTS", "4"))
    with tempfile.TemporaryDirectory(prefix="soak-") as folder, gemini_for_paths(Path(folder), keep=100) as fake:
        print(f"soak: fault matrix, then {minutes:g} min of traffic from {clients} clients ...", flush=True)
        result = soak(fake, Path(folder), minutes * 60, clients=clients)
    target = write_reliability_doc(result, DOCS / "reliability.md", command=f"SOAK_MINUTES={minutes:g} make soak")
    print(f"soak: {result.summary()}; wrote {target}", flush=True)
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
