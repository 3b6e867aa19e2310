"""The throw-away servers of streaming_core.testing.datastores."""

from __future__ import annotations

import asyncio

import asyncpg

from streaming_core.testing.datastores import POSTGRES_USER, PostgresServer


async def show(port: int, setting: str) -> str:
    connection = await asyncpg.connect(host="127.0.0.1", port=port, user=POSTGRES_USER, database="lab")
    try:
        return str(await connection.fetchval(f"SHOW {setting}"))
    finally:
        await connection.close()


def test_postgres_server_starts_with_the_settings_given() -> None:
    with PostgresServer(settings={"work_mem": "7MB"}) as server:
        assert asyncio.run(show(server.port, "work_mem")) == "7MB"
