"""Scale-out: N concurrent new conversations on our API with one and two worker processes.

Configurations side by side in one run (interleaved, so machine noise hits them alike): one worker
on the single-process stores (SQLite, in-memory runs), and one and two workers on PostgreSQL +
Redis. Each stream is a paced scripted answer (BENCH_SCALE_CHUNKS chunks, 30 ms apart). Reported:
completed, lost (no [DONE] or an error), wall time, and chunks per second; the client's own CPU
time is measured and reported beside it, because on a 2-core machine the load generator competes
with the workers for the same cores.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
from httpx_sse import aconnect_sse

from bench.report import Section, fmt_ms
from bench.stats import Spread, Target, load_average, paired_ratios, repeat_interleaved
from streaming_core.api.encoding import DONE_DATA
from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.testing.cluster import Cluster, Stores
from streaming_core.testing.datastores import PostgresServer, RedisServer

UNLIMITED = ApiLimits(max_streams_per_client=100_000, rate_per_minute=1_000_000, max_runs=100_000, ping_s=0)


@dataclass
class Outcome:
    completed: int = 0
    lost: int = 0
    chunks: int = 0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0


async def _one(client: httpx.AsyncClient, url: str, index: int, outcome: Outcome) -> None:
    try:
        async with aconnect_sse(client, "GET", f"{url}/chat/stream", params={"query": f"q{index}"}) as source:
            ended, failed = False, False
            async for event in source.aiter_sse():
                if event.data == DONE_DATA:
                    ended = True
                elif event.event == "error":
                    failed = True
                elif event.event == "message" and event.data:
                    outcome.chunks += 1
        if ended and not failed:
            outcome.completed += 1
        else:
            outcome.lost += 1
    except httpx.HTTPError:
        outcome.lost += 1


def _run_level(url: str, streams: int) -> Outcome:
    outcome = Outcome()

    async def run() -> None:
        limits = httpx.Limits(max_connections=streams + 10)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:
            await asyncio.gather(*(_one(client, url, index, outcome) for index in range(streams)))

    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(run())
    outcome.wall_s, outcome.client_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    return outcome


def measure_scale_out(streams: int, chunks: int, repeats: int) -> Section:
    reply = ScriptedReply(text="x" * (chunks * 4), chunk_size=4, chunk_delay=0.03)
    outcomes: dict[str, list[Outcome]] = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as data:
        redis, postgres = stack.enter_context(RedisServer()), stack.enter_context(PostgresServer())
        shared = Stores(redis.url, postgres.url)
        single = Stores("memory://", f"sqlite:///{data}/sessions.db")
        clusters = {
            "1 worker, SQLite + memory": stack.enter_context(Cluster((reply,), single, limits=UNLIMITED, workers=1)),
            "1 worker, PostgreSQL + Redis": stack.enter_context(Cluster((reply,), shared, limits=UNLIMITED, workers=1)),
            "2 workers, PostgreSQL + Redis": stack.enter_context(
                Cluster((reply,), shared, limits=UNLIMITED, workers=2)
            ),
        }

        for cluster in clusters.values():  # a worker's first turn pays ADK's lazy imports: not measured
            for worker in cluster.workers:
                _run_level(worker.url, 2)

        def measured(name: str, cluster: Cluster) -> float:
            outcome = _run_level(cluster.url, streams)
            outcomes.setdefault(name, []).append(outcome)
            return outcome.chunks / outcome.wall_s

        rates = repeat_interleaved(
            {name: (lambda n=name, c=cluster: measured(n, c)) for name, cluster in clusters.items()},  # type: ignore[misc]
            min_repeats=repeats,
            max_relative_iqr=0.1,
            budget_s=240,
        )
    return _section(streams, chunks, rates, outcomes)


def _section(streams: int, chunks: int, rates: dict[str, Spread], outcomes: dict[str, list[Outcome]]) -> Section:
    section = Section(
        title="Scale-out: workers over PostgreSQL + Redis",
        intro=(
            f"{streams} concurrent new conversations, each a scripted answer of {chunks} chunks 30 ms apart, "
            f"over real HTTP; configurations interleaved. Load average at the end: {load_average():.1f}. "
            "The client's CPU time is the load generator's own share of the same cores."
        ),
        header=["configuration", "completed", "lost", "wall time", "chunks/s", "client CPU per run"],
    )
    for name, runs in outcomes.items():
        section.rows.append(
            [
                name,
                str(sum(o.completed for o in runs)),
                str(sum(o.lost for o in runs)),
                Spread.of([o.wall_s for o in runs]).format(fmt_ms),
                rates[name].format(lambda v: f"{v:.0f}"),
                Spread.of([o.client_cpu_s for o in runs]).format(lambda v: f"{v:.2f} s"),
            ]
        )
    lost = sum(o.lost for runs in outcomes.values() for o in runs)
    section.targets.append(Target.counted(f"nothing lost at {streams} conversations (lost: {lost})", lost == 0))
    one, two = rates["1 worker, PostgreSQL + Redis"], rates["2 workers, PostgreSQL + Redis"]
    section.targets.append(
        Target.check(
            "2 workers deliver at least 1.6x the chunks/s of 1",
            paired_ratios(two.samples, one.samples),
            1.6,
            "at_least",
            lambda v: f"{v:.2f}x",
        )
    )
    section.notes.append(
        "Bounded by the 2 cores: two workers, Redis, PostgreSQL and the client share them, so the ratio "
        "measures contention as much as scaling; on a machine with a core per worker it is the target's test."
    )
    return section


def main() -> None:
    streams = int(os.environ.get("BENCH_SCALE_STREAMS", "100"))
    print(measure_scale_out(streams, int(os.environ.get("BENCH_SCALE_CHUNKS", "12")), 7).to_markdown())


if __name__ == "__main__":
    main()
