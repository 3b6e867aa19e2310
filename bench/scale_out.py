"""Scale-out: 100, 200 and 500 concurrent new conversations over Gemini through google-genai (a local
fake), side by side: our API with one and two workers on SQLite and on PostgreSQL + Redis, and
`adk api_server` on memory://, sqlite:/// and postgresql+asyncpg://; and one against two of our
workers on the paced scripted model, with the client's CPU accounted for."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Literal

from bench.load_client import Level, Served, outcome_cells, run_level
from bench.report import Section, fmt_ms, fmt_us, spread_cell
from bench.servers import (
    CHUNK_CHARS,
    CpuMeter,
    DatabaseBackends,
    ListeningServer,
    ServerProcess,
    Workers,
    adk_server,
    create_database,
    fake_gemini,
    raise_fd_limit,
    reply_env,
)
from bench.sse_clients import ADK, OURS, Protocol
from bench.stats import Repetition, Spread, Target, paired_ratios, repeat_until_stable
from streaming_core.testing.datastores import PostgresServer, RedisServer

GEMINI_CHUNKS, GEMINI_DELAY = 12, 0.03  # as api_load's fake Gemini: what a new user tried in issue 11
# The paced scripted load of 1 against 2 workers. 300 conversations, ~3.5 s a run on 1 worker: runs of
# 100 (~1 s, 1,200 chunks) left psutil's 10 ms ticks and a worker's occasional full garbage
# collection in each ratio, whose spread then straddled the target (1.41–1.72× around 1.6×).
PACED_STREAMS, PACED_CHUNKS, PACED_DELAY = 300, 12, 0.03
# Gemini levels above this many conversations run once: a round of every configuration at 500 takes
# about 90 s here, and the section must stay under ~10 minutes. Only 100 conversations (the wall-time
# target) and the paced load (the scaling target) have verdicts judged on a spread, so only they
# get more repetitions while one is not steady: a round costs ~14 s and ~7 s, and GROUP_BUDGET_S
# caps each at about 2 minutes, ~130 s over the minimum's ~250 s at most.
ONCE_ABOVE = 200
MAX_REPEATS, GROUP_BUDGET_S = 15, 120.0
# Enough at once for a worker to open most of its PostgreSQL pool (POOL_SIZE, kept open), so the
# first measured repetition does not pay for starting PostgreSQL backends the others reuse.
WARM_UP_STREAMS = 30
SCALING = 1.6


@dataclass(frozen=True, slots=True)
class Config:
    """One server configuration: whose server, where conversations and runs live, how many workers."""

    server: Literal["ours", "adk"]
    sessions: Literal["memory", "sqlite", "postgresql"]
    workers: int = 1
    redis_runs: bool = False
    paced: bool = False  # the paced scripted model instead of the fake Gemini

    @property
    def label(self) -> str:
        if self.server == "adk":
            return f"adk api_server, {SCHEMES[self.sessions]}"
        runs = "runs in Redis" if self.redis_runs else "runs in memory"
        model = "paced scripted: " if self.paced else ""
        return f"{model}ours, {self.workers} worker{'s' if self.workers > 1 else ''}, {NAMES[self.sessions]}, {runs}"

    @property
    def protocol(self) -> Protocol:
        return OURS if self.server == "ours" else ADK

    @property
    def chunks(self) -> int:
        return PACED_CHUNKS if self.paced else GEMINI_CHUNKS

    @property
    def uses_stores(self) -> bool:
        return self.redis_runs or self.sessions == "postgresql"


SCHEMES = {"memory": "memory://", "sqlite": "sqlite:///", "postgresql": "postgresql+asyncpg://"}
NAMES = {"memory": "memory", "sqlite": "SQLite", "postgresql": "PostgreSQL"}
OURS_SQLITE = Config("ours", "sqlite")
OURS_SQLITE_2 = Config("ours", "sqlite", 2, redis_runs=True)
OURS_PG = Config("ours", "postgresql", 1, redis_runs=True)
OURS_PG_2 = Config("ours", "postgresql", 2, redis_runs=True)
ADK_MEMORY = Config("adk", "memory")
GEMINI_CONFIGS = [OURS_SQLITE, OURS_SQLITE_2, OURS_PG, OURS_PG_2, ADK_MEMORY, Config("adk", "sqlite"),
                  Config("adk", "postgresql")]  # fmt: skip
PACED_1, PACED_2 = Config("ours", "postgresql", 1, True, paced=True), Config("ours", "postgresql", 2, True, paced=True)
PACED = [PACED_1, PACED_2]


@dataclass
class Run:
    """One configuration at one level, one repetition: the client's view and the servers' cost, with
    the Redis and PostgreSQL servers' CPU apart from the API processes' (`level.server_cpu_s`)."""

    level: Level
    store_cpu_s: float
    workers: int

    def capacity(self, cores: int) -> float:
        """Chunks/s the servers' measured CPU per chunk allows on `cores` with the client elsewhere:
        each worker (one event loop) at most one core, all server processes together at most `cores`."""
        level = self.level
        return min(self.workers * level.chunks / level.server_cpu_s, cores * level.chunks / self.total_cpu_s)

    @property
    def total_cpu_s(self) -> float:
        return self.level.server_cpu_s + self.store_cpu_s


Results = dict[tuple[Config, int], list[Run]]


def _database(config: Config, index: int) -> str:
    """The PostgreSQL database of the `index`th configuration: a database each, since ADK's first start
    creates its tables, racing another's, and so that each one's backends can be told apart."""
    return f"{config.server}_{index}"


def _server(config: Config, env: dict[str, str], redis: RedisServer, postgres: PostgresServer, data: str,
            index: int) -> Workers | ServerProcess:  # fmt: skip
    sqlite = f"sqlite:///{data}/{config.server}-{index}.db"
    if config.sessions == "postgresql":
        sessions = create_database(postgres, _database(config, index))
    else:
        sessions = {"memory": "memory://", "sqlite": sqlite}[config.sessions]
    if config.server == "adk":
        return adk_server(env, sessions)
    runs = redis.url.rsplit("/", 1)[0] + f"/{index}" if config.redis_runs else "memory://"  # a Redis db each
    stores = {"SESSION_SERVICE_URI": sessions, "RUN_STORE_URL": runs}
    paced = {"BENCH_BACKEND": "scripted", "BENCH_COALESCE": "0"} if config.paced else {}
    return Workers(env | stores | paced, config.workers)


def _start_together(stack: ExitStack, servers: list[Workers | ServerProcess]) -> None:
    """Starts every server at once (each spends seconds importing ADK, on whichever core is free);
    those that started are stopped with `stack`, and the first that did not raises."""

    def start(server: Workers | ServerProcess) -> BaseException | None:
        try:
            server.__enter__()
        except Exception as error:  # a server that fails to start stops itself; the others must be stopped
            return error
        return None

    # The pool's threads must outlive the servers: Linux sends a server its parent-death signal
    # (PR_SET_PDEATHSIG, set by ServerProcess) when the *thread* that started it ends.
    pool = stack.enter_context(ThreadPoolExecutor(len(servers)))
    failures = list(pool.map(start, servers))
    for server, failure in zip(servers, failures, strict=True):
        if failure is None:
            stack.push(server.__exit__)
    for failure in failures:
        if failure is not None:
            raise failure


def _measure(served: dict[Config, Served], stores: dict[Config, list[CpuMeter]], levels: list[int], repeats: int,
             paced_streams: int) -> tuple[Results, dict[str, str]]:  # fmt: skip
    """Every group's runs (each Gemini level, then the paced load), each group repeated as `_rule`
    says, and how many repetitions it got and why."""
    results: Results = {}
    repetitions: dict[str, str] = {}
    with asyncio.Runner() as runner:
        for config, server in served.items():  # a worker's first turns build the agent and warm the imports
            for part in server.processes if isinstance(server, Workers) else [server]:
                runner.run(run_level(part, config.protocol, WARM_UP_STREAMS, config.chunks))
        gemini = [config for config in served if not config.paced]
        for streams, configs, name in [*((n, gemini, f"{n} conversations") for n in levels),
                                       (paced_streams, PACED, "the paced scripted load")]:  # fmt: skip
            group = _Group(runner, served, stores, results, configs, streams, wall_level=levels[0])
            rule = _rule(1 if streams > ONCE_ABOVE and configs is not PACED else repeats)
            count = repeat_until_stable(group.repeat, tuple, rule, group.targets)
            repetitions[name] = rule.outcome(count, group.targets())
    return results, repetitions


@dataclass
class _Group:
    """Configurations measured together at one level; `repeat` runs each once, in rotating order."""

    runner: asyncio.Runner
    served: dict[Config, Served]
    stores: dict[Config, list[CpuMeter]]  # what each configuration's stores spend for it
    results: Results
    configs: list[Config]
    streams: int
    wall_level: int  # the level whose wall time is a target

    def repeat(self, turn: int) -> None:
        # Who goes first rotates, so a drift in the machine's load hits every configuration alike.
        shift = turn % len(self.configs)
        for config in self.configs[shift:] + self.configs[:shift]:
            stores = self.stores[config]
            before = sum(store.cpu_seconds() for store in stores)
            level = self.runner.run(run_level(self.served[config], config.protocol, self.streams, config.chunks))
            store_cpu = sum(store.cpu_seconds() for store in stores) - before
            self.results.setdefault((config, self.streams), []).append(Run(level, store_cpu, config.workers))

    def targets(self) -> list[Target]:
        """The targets this group's spread decides: the paced load's scaling, or wall time at `wall_level`."""
        if self.configs == PACED:
            return [_scaling_target(self.results)]
        return [_wall_target(self.results, self.streams)] if self.streams == self.wall_level else []


def _rule(minimum: int) -> Repetition:
    """At least `minimum` repetitions, more while a verdict judged on a spread is not steady, up to
    MAX_REPEATS, while the group's repetitions so far took under GROUP_BUDGET_S."""
    return Repetition(minimum, max(minimum, MAX_REPEATS), budget_s=GROUP_BUDGET_S)


def measure_scale_out(levels_spec: str, repeats: int, paced_streams: int = PACED_STREAMS) -> Section:
    """`levels_spec`: the Gemini levels, "100,200,500"; `paced_streams`: the paced scripted load's level."""
    levels = sorted({int(part) for part in levels_spec.split(",") if part.strip()})
    # A socket per stream in the client and each server, and Redis holds two per stream (inherited).
    raise_fd_limit(4 * max(*levels, paced_streams) + 1024)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-scale-") as data:
        redis, postgres = stack.enter_context(RedisServer()), stack.enter_context(PostgresServer())
        fake = stack.enter_context(fake_gemini(GEMINI_CHUNKS, GEMINI_DELAY))
        gemini = reply_env(GEMINI_CHUNKS, CHUNK_CHARS, GEMINI_DELAY) | fake
        paced = reply_env(PACED_CHUNKS, CHUNK_CHARS, PACED_DELAY)
        configs = list(enumerate([*GEMINI_CONFIGS, PACED_1, PACED_2], start=1))
        servers = {config: _server(config, paced if config.paced else gemini, redis, postgres, data, index)
                   for index, config in configs}  # fmt: skip
        _start_together(stack, list(servers.values()))
        # Redis is one server for all (a database each) and costs each run little; PostgreSQL is
        # measured per configuration, by its database's backends, and its shared work apart.
        redis_cpu, postgres_cpu = ListeningServer(redis.port), ListeningServer(postgres.port)
        stores: dict[Config, list[CpuMeter]] = {
            config: ([redis_cpu] if config.redis_runs else [])
            + ([DatabaseBackends(postgres.port, _database(config, index))] if config.sessions == "postgresql" else [])
            for index, config in configs
        }
        postgres_before = postgres_cpu.cpu_seconds() - _attributed(stores, redis_cpu)
        served: dict[Config, Served] = dict(servers)
        results, repetitions = _measure(served, stores, levels, repeats, paced_streams)
        postgres_shared = postgres_cpu.cpu_seconds() - _attributed(stores, redis_cpu) - postgres_before
    return _section(levels, repeats, results, repetitions, postgres_shared)


def _attributed(stores: dict[Config, list[CpuMeter]], redis_cpu: ListeningServer) -> float:
    """The PostgreSQL CPU measured per configuration so far, every configuration's backends together."""
    return sum(meter.cpu_seconds() for meters in stores.values() for meter in meters if meter is not redis_cpu)


def _cell(runs: list[Run], value: Callable[[Run], float | None], unit: Callable[[float], str]) -> str:
    values = [v for v in map(value, runs) if v is not None]
    return spread_cell(Spread.of(values), unit) if values else "–"


def _per_chunk(run: Run, cpu_s: float) -> float | None:
    return cpu_s / run.level.chunks if run.level.chunks else None


def _row(config: Config, streams: int, runs: list[Run]) -> list[str]:
    levels = [run.level for run in runs]
    return [
        config.label,
        str(streams),
        str(len(runs)),
        *outcome_cells(levels),
        _cell(runs, lambda run: run.level.ttfc_p(0.5), fmt_ms),
        _cell(runs, lambda run: run.level.ttfc_p(0.99), fmt_ms),
        _cell(runs, lambda run: run.level.gap_p99(), fmt_ms),
        _cell(runs, lambda run: run.level.wall_s, lambda s: f"{s:.2f} s"),
        _cell(runs, lambda run: run.level.throughput, lambda v: f"{v:.0f}"),
        _cell(runs, lambda run: _per_chunk(run, run.level.server_cpu_s), fmt_us),
        _cell(runs, lambda run: _per_chunk(run, run.store_cpu_s) if config.uses_stores else None, fmt_us),
        _cell(runs, lambda run: _per_chunk(run, run.level.client_cpu_s), fmt_us),
    ]


def _section(levels: list[int], repeats: int, results: Results, repetitions: dict[str, str],
             postgres_shared: float) -> Section:  # fmt: skip
    once = [streams for streams in levels if streams > ONCE_ABOVE]
    section = Section(
        title="Scale-out: workers over PostgreSQL + Redis",
        intro=(
            f"All conversations start at once, each new: one request read to its end. Gemini through the real "
            f"google-genai client against a local fake ({GEMINI_CHUNKS} chunks of 10 characters "
            f"{GEMINI_DELAY * 1000:.0f} ms apart; the fake serves from a process of its own), at "
            f"{', '.join(map(str, levels))} conversations (BENCH_SCALE_LEVELS). Our API runs as "
            "`streaming_core.api.worker` processes sharing one port (SO_REUSEPORT), the bench agent on "
            "`SESSION_SERVICE_URI` and `RUN_STORE_URL`; ADK's `adk api_server` (`/run_sse`, "
            "`--auto_create_session`) on the same agent with `--session_service_uri`. Two workers on one SQLite "
            "file keep their runs in Redis: resume, cancel and the one-turn-at-a-time lock must hold across "
            "processes, and only the Redis run store shares them (SQLite itself is safe across processes: WAL, "
            "and a write lock held by the other worker is waited for). Every configuration runs at each level in "
            f"turn, who goes first rotating; at least {repeats} repetitions (BENCH_SCALE_REPEATS)"
            + (f", once at {', '.join(map(str, once))} conversations (the longest runs, to keep the section "
               "under ~10 minutes: those rows have no spread)" if once else "")
            + f", and more, up to {MAX_REPEATS}, while a verdict judged on a spread is not steady (would be "
            f"marked 'a rerun may differ') and the level's repetitions so far took under {GROUP_BUDGET_S:.0f} s; "
            "n per row, and the notes say why. "
            "Last rows: the paced scripted model in the workers' process "
            f"({_paced(results)[0][0].level.streams} conversations, {PACED_CHUNKS} chunks "
            f"{PACED_DELAY * 1000:.0f} ms apart, coalescing "
            "off so a saturated worker does not join chunks and do less work per chunk than an unsaturated one). "
            "CPU/chunk: API is every worker (or ADK's one process) together, psutil; Redis + PostgreSQL is, "
            "where the configuration uses them, the Redis server (one for all, a database each) and the "
            "PostgreSQL backends connected to the configuration's own database, reported apart and not in the API "
            "column (PostgreSQL's shared background work is in the notes); client is the benchmark process (load "
            "generator, and for Gemini the fake too). Figures are medians (min–max) over the repetitions."
        ),
        header=["configuration", "conversations", "n", "completed", "lost", "TTFC p50", "TTFC p99", "gap p99",
                "wall", "chunks/s", "API CPU/chunk", "Redis + PostgreSQL CPU/chunk", "client CPU/chunk"],
    )  # fmt: skip
    for (config, streams), runs in results.items():
        section.rows.append(_row(config, streams, runs))
    for streams in levels:
        ours = [runs for (c, n), runs in results.items() if c.server == "ours" and not c.paced and n == streams]
        lost = sum(run.level.errors.total() for runs in ours for run in runs)
        section.targets.append(
            Target.counted(f"our API loses nothing at {streams} conversations (lost {lost})", not lost)
        )
    lost = sum(run.level.errors.total() for runs in _paced(results) for run in runs)
    section.targets.append(Target.counted(f"our API loses nothing on the paced scripted load (lost {lost})", not lost))
    section.targets += [_wall_target(results, levels[0]), _scaling_target(results)]
    section.notes.append("Repetitions: " + "; ".join(f"{name} {got}" for name, got in repetitions.items()) + ".")
    section.notes += _notes(results, levels[0], postgres_shared)
    return section


def _paced(results: Results) -> tuple[list[Run], list[Run]]:
    """The paced scripted load's runs on 1 worker and on 2."""
    one, two = (next(runs for (c, _), runs in results.items() if c == config) for config in (PACED_1, PACED_2))
    return one, two


def _wall_target(results: Results, streams: int) -> Target:
    ours, adk = results[(OURS_PG_2, streams)], results[(ADK_MEMORY, streams)]
    return Target.check(
        f"{OURS_PG_2.label}: wall time at {streams} conversations no worse than {ADK_MEMORY.label}'s (ours / ADK's)",
        paired_ratios([run.level.wall_s for run in ours], [run.level.wall_s for run in adk]),
        1.0,
        "at_most",
        lambda ratio: f"{ratio:.2f}×",
    )


def _scaling_target(results: Results) -> Target:
    one, two = _paced(results)
    cores = os.cpu_count() or 1
    measured = paired_ratios([run.level.throughput for run in two], [run.level.throughput for run in one])
    return Target.check(
        f"paced scripted, PostgreSQL + Redis: 2 workers deliver at least {SCALING}× the chunks/s of 1 with the "
        f"client's CPU given back to the servers (capacity on {cores} cores from the servers' CPU per chunk; the "
        f"wall-clock chunks/s with the client on the same cores: {measured.format(lambda r: f'{r:.2f}×')})",
        paired_ratios([run.capacity(cores) for run in two], [run.capacity(cores) for run in one]),
        SCALING,
        "at_least",
        lambda ratio: f"{ratio:.2f}×",
    )


def _notes(results: Results, streams: int, postgres_shared: float) -> list[str]:
    cores = os.cpu_count() or 1
    one, two = _paced(results)

    def median(runs: list[Run], value: Callable[[Run], float]) -> float:
        return Spread.of([value(run) for run in runs]).median

    client_share = median(two, lambda run: run.level.client_cpu_s / (cores * run.level.wall_s))
    store_share = median(two, lambda run: run.store_cpu_s / run.total_cpu_s)
    ours, adk = results[(OURS_PG_2, streams)], results[(ADK_MEMORY, streams)]
    store_losses = sum(count for (config, _), runs in results.items() if config.server == "ours" for run in runs
                       for reason, count in run.level.errors.items() if "store" in reason)  # fmt: skip
    bounds_loss = (
        [
            f"What lost our answers ({store_losses} of them): `store` / `store_unavailable` is the conversation "
            "store not answering in time. On PostgreSQL each worker's turns queue in order for its pool's 30 "
            "connections (a semaphore sized to the pool, `streaming_core/stores/postgres_sessions.py`), with the "
            "pool's 60 s timeout only as a backstop; a loss here means a store trip failed (see the workers' log), and "
            "the turn ended with an error event or a 503, never a hang."
        ]
        if store_losses
        else []
    )
    return [
        *bounds_loss,
        "How the client's CPU is accounted for: on 2 cores the load generator (one asyncio process decoding "
        f"every event) competes with the workers; with 2 workers it took {client_share:.0%} of the machine's CPU "
        "time during a run (client CPU/chunk above). The scaling target is judged on capacity: what the servers' "
        "own measured CPU per chunk (CPU time, which neighbours barely move) lets them deliver with the machine's "
        f"{cores} cores to themselves, each worker, one event loop, at most one core, and all server processes "
        "(workers, Redis, PostgreSQL) together at most all cores: min(workers × chunks / worker CPU, cores × "
        "chunks / all server CPU), paired repetition by repetition. The wall-clock ratio is in the target's text.",
        f"What bounds the scaling: with 2 workers Redis and PostgreSQL took {store_share:.0%} of the servers' CPU, "
        f"on the same {cores} cores as the workers, so 2 workers' capacity is all cores over all server CPU per "
        "chunk, while 1 worker's is its one core over its own CPU per chunk (worker CPU per chunk: "
        f"{median(one, lambda run: run.level.cpu_per_chunk) * 1e6:.0f} µs with 1 worker, "
        f"{median(two, lambda run: run.level.cpu_per_chunk) * 1e6:.0f} µs with 2).",
        f"PostgreSQL's shared work, in no configuration's column: {postgres_shared:.1f} s of CPU over the section's "
        "measured runs in its background processes (autovacuum of the tables the runs filled, WAL writer, "
        "checkpointer) and any connection that closed. It wakes on its own schedule: counted in whichever run was "
        "going, it moved a paced repetition's store CPU between 8 and 208 µs per chunk.",
        f"What bounds wall time at {streams} conversations: every server process, the client and the fake share "
        f"{cores} cores; ours with 2 workers on PostgreSQL + Redis spent "
        f"{median(ours, lambda run: run.total_cpu_s / run.level.chunks) * 1e6:.0f} µs of server CPU per chunk "
        f"(API + Redis + PostgreSQL) against {median(adk, lambda run: run.total_cpu_s / run.level.chunks) * 1e6:.0f}"
        " µs for adk api_server in memory, which keeps nothing outside its process (no resume, no cross-process "
        "lock, no durable conversation).",
        "What a conversation costs on PostgreSQL (`python -m scripts.session_store_cost`, 400 new conversations "
        "through the API's turn path, when issue 11's store work landed): ADK's DatabaseSessionService made 31 "
        "round trips per turn (21 statements, their transactions) and 13.5 ms of worker CPU; our subclass, on "
        "ADK's tables, makes 4 (one statement per create, read and append, reads outside a transaction, the "
        "runner's read of the session its turn just created answered from the create) and 6.1 ms, against "
        "3.8 ms for memory://.",
    ]


def main() -> None:
    section = measure_scale_out(os.environ.get("BENCH_SCALE_LEVELS", "100,200,500"), 3)
    print(section.to_markdown())


if __name__ == "__main__":
    main()
