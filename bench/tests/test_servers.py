"""The benchmark's CPU meters on a real PostgreSQL server, and the fake Gemini in its own process."""

from __future__ import annotations

import asyncio

import asyncpg
from google import genai
from google.genai import types

from bench.servers import CHUNK_CHARS, DatabaseBackends, create_database, fake_gemini
from streaming_core.testing.datastores import POSTGRES_USER, PostgresServer


def test_database_backends_count_only_the_connections_to_their_database() -> None:
    with PostgresServer() as server:
        for name in ("busy", "idle"):
            create_database(server, name)
        busy, idle = DatabaseBackends(server.port, "busy"), DatabaseBackends(server.port, "idle")

        async def work() -> None:
            options = {"host": "127.0.0.1", "port": server.port, "user": POSTGRES_USER}
            working, waiting = (
                await asyncpg.connect(database="busy", **options),
                await asyncpg.connect(database="idle", **options),
            )
            try:
                before = busy.cpu_seconds(), idle.cpu_seconds()
                await working.fetchval("SELECT count(*) FROM generate_series(1, 3000000)")
                assert busy.cpu_seconds() - before[0] > 0.05
                assert idle.cpu_seconds() - before[1] < 0.02
            finally:
                await working.close()
                await waiting.close()

        asyncio.run(work())


def test_the_fake_gemini_process_streams_its_reply_to_google_genai() -> None:
    with fake_gemini(chunks=4, delay=0.0) as env:
        client = genai.Client(
            api_key=env["GOOGLE_API_KEY"], http_options=types.HttpOptions(base_url=env["GOOGLE_GEMINI_BASE_URL"])
        )
        stream = client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
        chunks = [chunk.text for chunk in stream]
    assert chunks == ["x" * CHUNK_CHARS] * 4
