"""What the conversation store costs per turn: SQL statements, commits and the worker's CPU, over
new conversations on the scripted model through the API's path (open_turn, then GuardedTurn's events).

    .venv/bin/python -m scripts.session_store_cost [TURNS] [CONCURRENCY] [--uri URI]

Without --uri a throw-away PostgreSQL is started; memory:// or sqlite:///path compare the others.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from dataclasses import replace
from typing import Any

from sqlalchemy import event

from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.events import TextDelta
from streaming_core.quotas import GuardedTurn
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.settings import Settings
from streaming_core.stores.sessions import check_session_store
from streaming_core.testing.datastores import PostgresServer

TEXT = " ".join(f"word{n:02d}" for n in range(12))  # 12 chunks, as the scale-out benchmark's answers
CONFIG = AssistantConfig(
    backend="scripted", script=(ScriptedReply(text=TEXT, chunk_size=len("word00 ")),), coalesce=False
)
WARM_UP = 20


async def turn(assistant: Assistant, message: str) -> int:
    opened = await assistant.open_turn(message)
    events = GuardedTurn.of(opened, "scripted", None).events(mode="sse")
    return sum([isinstance(streamed, TextDelta) async for streamed in events])


async def measure(uri: str, turns: int, concurrency: int) -> None:
    assistant = build_assistant(CONFIG, replace(Settings(backend="scripted"), session_service_uri=uri))
    service: Any = assistant.session_service
    await check_session_store(service, uri)
    statements: collections.Counter[str] = collections.Counter()
    if hasattr(service, "db_engine"):
        engine = service.db_engine.sync_engine
        event.listen(engine, "before_cursor_execute", lambda *sent: statements.update([" ".join(sent[2].split())]))
        event.listen(engine, "commit", lambda _: statements.update(["COMMIT"]))
    for n in range(WARM_UP):  # pooled connections, prepared statements, compiled caches
        await turn(assistant, f"warm-up {n}")
    statements.clear()
    slots = asyncio.Semaphore(concurrency)

    async def one(n: int) -> int:
        async with slots:
            return await turn(assistant, f"question {n}")

    cpu, wall = time.process_time(), time.perf_counter()
    chunks = sum(await asyncio.gather(*(one(n) for n in range(turns))))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{turns} turns, {concurrency} at a time, {chunks / turns:.1f} chunks each, on {uri.split(':')[0]}")
    print(f"  SQL statements per turn {sum(statements.values()) / turns:.2f} (COMMIT counted as one)")
    print(f"  worker CPU per turn {cpu / turns * 1e3:.2f} ms ({cpu / chunks * 1e6:.0f} us per chunk)")
    print(f"  wall per turn {wall / turns * 1e3:.2f} ms")
    for statement, count in statements.most_common():
        print(f"  {count / turns:5.2f}  {statement[:100]}")
    if hasattr(service, "close"):
        await service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("turns", type=int, nargs="?", default=300)
    parser.add_argument("concurrency", type=int, nargs="?", default=1)
    parser.add_argument("--uri", help="SESSION_SERVICE_URI to measure; default: a throw-away PostgreSQL")
    arguments = parser.parse_args()
    if arguments.uri:
        asyncio.run(measure(arguments.uri, arguments.turns, arguments.concurrency))
        return
    with PostgresServer() as server:
        asyncio.run(measure(server.url, arguments.turns, arguments.concurrency))


if __name__ == "__main__":
    main()
