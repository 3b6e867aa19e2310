"""Where Redis's and PostgreSQL's CPU goes per turn under the scale-out benchmark's paced scripted
load (bench/scale_out.py's last rows): worker, redis-server and postgres CPU per turn and chunk,
Redis commands per turn (INFO commandstats) and PostgreSQL statements per turn (pg_stat_statements).

    .venv/bin/python -m scripts.store_cpu [WORKERS] [--streams 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import asyncpg
from redis import Redis

from bench.load_client import run_level
from bench.scale_out import PACED_CHUNKS, PACED_DELAY, PACED_STREAMS, WARM_UP_STREAMS
from bench.servers import CHUNK_CHARS, ListeningServer, Workers, create_database, reply_env
from bench.sse_clients import OURS
from streaming_core.testing.datastores import POSTGRES_USER, PostgresServer, RedisServer

STATEMENTS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}
DATABASE = "store_cpu"


async def _statements(port: int, reset: bool) -> list[Any]:
    connection = await asyncpg.connect(host="127.0.0.1", port=port, user=POSTGRES_USER, database=DATABASE)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if reset:
            await connection.execute("SELECT pg_stat_statements_reset(), pg_stat_reset()")
            return []
        await connection.execute("SELECT pg_stat_force_next_flush()")
        database = await connection.fetchrow(
            "SELECT sessions AS connections, xact_commit + xact_rollback AS transactions FROM pg_stat_database "
            "WHERE datname = $1",
            DATABASE,
        )
        return [
            database,
            *(
                await connection.fetch(
                    "SELECT calls, total_exec_time + total_plan_time AS ms, query FROM pg_stat_statements "
                    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) ORDER BY calls DESC",
                    DATABASE,
                )
            ),
        ]
    finally:
        await connection.close()


def _commands(redis: Redis) -> dict[str, tuple[int, int]]:
    """Command -> (calls, usec) since the last CONFIG RESETSTAT."""
    info: dict[str, Any] = redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"])) for name, v in info.items()}


def measure(workers: int, streams: int, rounds: int, baseline: bool) -> None:
    with RedisServer() as redis_server, PostgresServer(settings=STATEMENTS) as postgres:
        sessions = create_database(postgres, DATABASE)
        env = reply_env(PACED_CHUNKS, CHUNK_CHARS, PACED_DELAY) | {"BENCH_BACKEND": "scripted", "BENCH_COALESCE": "0"}
        stores = {"SESSION_SERVICE_URI": sessions, "RUN_STORE_URL": redis_server.url}
        if baseline:
            stores = {"SESSION_SERVICE_URI": "memory://", "RUN_STORE_URL": "memory://"}
        with Workers(env | stores, workers) as served:
            servers = served, ListeningServer(redis_server.port), ListeningServer(postgres.port)
            asyncio.run(_load(served, Redis.from_url(redis_server.url), postgres.port, servers, streams, rounds))


async def _load(served: Workers, redis: Redis, postgres_port: int, servers: tuple[Any, ...], streams: int,
                rounds: int) -> None:  # fmt: skip
    for part in served.processes:
        await run_level(part, OURS, WARM_UP_STREAMS, PACED_CHUNKS)
    redis.config_resetstat()
    await _statements(postgres_port, reset=True)
    before = [server.cpu_seconds() for server in servers]
    chunks, turns = 0.0, 0
    for _ in range(rounds):
        level = await run_level(served, OURS, streams, PACED_CHUNKS)
        chunks, turns = chunks + level.chunks, turns + streams
    after = [server.cpu_seconds() for server in servers]
    commands, statements = _commands(redis), await _statements(postgres_port, reset=False)
    print(f"{len(served.processes)} worker(s), {rounds} x {streams} paced turns, {chunks / turns:.1f} chunks each")
    spent = [a - b for a, b in zip(after, before, strict=True)]
    for name, seconds in zip(("worker", "redis-server", "postgres"), spent, strict=True):
        print(f"  {name:13} CPU per turn {seconds / turns * 1e6:7.0f} us, per chunk {seconds / chunks * 1e6:5.0f} us")
    redis_calls = sum(calls for calls, _ in commands.values())
    print(f"  Redis commands per turn {redis_calls / turns:.1f} (usec inside commands, per turn)")
    for name, (calls, usec) in sorted(commands.items(), key=lambda item: -item[1][0]):
        print(f"    {calls / turns:6.2f}  {usec / turns:6.1f} us  {name}")
    database, *statements = statements
    print(f"  PostgreSQL connections opened per turn {database['connections'] / turns:.2f}, "
          f"transactions per turn {database['transactions'] / turns:.2f}")  # fmt: skip
    print(f"  PostgreSQL statements per turn {sum(row['calls'] for row in statements) / turns:.2f} (time in them)")
    for row in statements:
        query = " ".join(row["query"].split())
        print(f"    {row['calls'] / turns:6.2f}  {row['ms'] / turns * 1e3:6.1f} us  {query[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workers", type=int, nargs="?", default=1)
    parser.add_argument("--streams", type=int, default=PACED_STREAMS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", action="store_true", help="memory:// for both: the workers' CPU without stores")
    arguments = parser.parse_args()
    measure(arguments.workers, arguments.streams, arguments.rounds, arguments.baseline)


if __name__ == "__main__":
    main()
