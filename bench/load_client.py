"""The load benchmarks' client: many new conversations at once from one asyncio httpx + httpx-sse
client that decodes every event, and what each level saw (completed, TTFC, gaps) and cost the servers."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

import httpx
from httpx_sse import SSEError, aconnect_sse

from bench.servers import CHUNK_CHARS
from bench.sse_clients import Protocol
from bench.stats import Spread


class Served(TypingProtocol):
    """Server processes behind one URL whose CPU time and memory can be read: one process, or workers."""

    url: str

    def cpu_seconds(self) -> float: ...

    def rss(self) -> int: ...


@dataclass
class Level:
    """One server at one concurrency, one repetition: what its streams saw and what it cost."""

    server: str
    streams: int
    expected_chunks: int
    ttfc: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    chars: int = 0
    events: int = 0  # chunk events: fewer than the model's chunks where our seam joined deltas
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    peak_rss: int = 0

    @property
    def completed(self) -> int:
        return self.streams - self.errors.total()

    @property
    def chunks(self) -> float:
        """The model's chunks delivered (CHUNK_CHARS characters each), however many events carried them."""
        return self.chars / CHUNK_CHARS

    @property
    def events_per_answer(self) -> float:
        return self.events / self.completed if self.completed else 0.0

    @property
    def throughput(self) -> float:
        """Text chunks delivered per second of wall time, all streams together."""
        return self.chunks / self.wall_s

    @property
    def answers_per_s(self) -> float:
        """Answers completed per second of wall time: the work done, since a server that loses
        answers ends its wall time sooner."""
        return self.completed / self.wall_s

    @property
    def cpu_per_chunk(self) -> float:
        return self.server_cpu_s / self.chunks if self.chunks else 0.0

    def ttfc_p(self, q: float) -> float | None:
        return percentile(self.ttfc, q)

    def gap_p99(self) -> float | None:
        return percentile(self.gaps, 0.99)


def percentile(values: list[float], q: float) -> float | None:
    return sorted(values)[int(q * (len(values) - 1))] if values else None


def median_of(values: list[float | None]) -> float | None:
    """The median of the values measured (a level that completed nothing has no TTFC)."""
    present = [value for value in values if value is not None]
    return Spread.of(present).median if present else None


def outcome_cells(runs: list[Level]) -> list[str]:
    """`completed/streams` over all repetitions, and the lost ones by reason."""
    streams = sum(run.streams for run in runs)
    lost = sum(run.errors.total() for run in runs)
    reasons = Counter[str]()
    for run in runs:
        reasons.update(run.errors)
    return [f"{streams - lost}/{streams}", ", ".join(f"{count} {reason}" for reason, count in reasons.items()) or "0"]


async def _stream(client: httpx.AsyncClient, protocol: Protocol, index: int, level: Level) -> None:
    request = protocol.request(index)
    start = time.perf_counter()
    arrivals: list[float] = []
    chars = 0
    ended = False
    try:
        async with aconnect_sse(client, request.method, request.path, **request.options) as source:
            if source.response.status_code != 200:
                level.errors[f"HTTP {source.response.status_code} {await _refusal(source.response)}".rstrip()] += 1
                return
            async for event in source.aiter_sse():
                kind = protocol.classify(event)
                if kind == "chunk":
                    arrivals.append(time.perf_counter())
                    chars += len(protocol.text_of(event))
                elif kind == "error":
                    level.errors[f"error event ({protocol.error_of(event)})"] += 1
                    return
                ended = ended or kind == "end"
    except (httpx.HTTPError, SSEError, ValueError) as error:  # ValueError: an event that is not JSON
        level.errors[type(error).__name__] += 1
        return
    level.chars += chars
    # Complete by its text, not its event count: our seam may join chunks a slow reader left waiting.
    if not ended or chars != level.expected_chunks * CHUNK_CHARS:
        level.errors[f"incomplete ({chars} characters)"] += 1
        return
    level.events += len(arrivals)
    level.ttfc.append(arrivals[0] - start)
    level.gaps += [later - earlier for earlier, later in itertools.pairwise(arrivals)]


async def _refusal(response: httpx.Response) -> str:
    """The error code of a refused request's JSON body (ours: `{"error": code}`), if it has one."""
    body = (await response.aread()).decode(errors="replace")
    try:
        error = json.loads(body).get("error") if body.startswith("{") else None
    except ValueError:
        return ""
    return error if isinstance(error, str) else ""


async def _sample_rss(server: Served, level: Level) -> None:
    while True:
        level.peak_rss = max(level.peak_rss, server.rss())
        await asyncio.sleep(0.1)


async def run_level(server: Served, protocol: Protocol, streams: int, chunks: int) -> Level:
    """`streams` new conversations at once, each one request read to its end, over one connection each."""
    level = Level(protocol.name, streams, chunks)
    # No keep-alive: each stream's connection closes with its answer. Idle connections left in the
    # pool cost httpcore a scan of the whole pool per idle one on every request's end, O(streams²):
    # at 500 streams that was most of this client's CPU, taken from the servers' two cores.
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=300) as client:
        sampler = asyncio.create_task(_sample_rss(server, level))
        cpu, client_cpu, start = server.cpu_seconds(), time.process_time(), time.perf_counter()
        await asyncio.gather(*(_stream(client, protocol, index, level) for index in range(streams)))
        level.wall_s = time.perf_counter() - start
        level.server_cpu_s, level.client_cpu_s = server.cpu_seconds() - cpu, time.process_time() - client_cpu
        sampler.cancel()
    return level
