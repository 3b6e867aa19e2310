"""The SQLite conversation store under many concurrent turns, and when it fails."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from streaming_core.agent import build_agent
from streaming_core.api.limits import ApiLimits
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.errors import SessionStoreUnavailable
from streaming_core.events import Done, StreamError
from streaming_core.runtime import AssistantConfig
from streaming_core.sessions import (
    BoundedInMemorySessionService,
    create_session_service,
)
from streaming_core.settings import Settings
from streaming_core.sqlite_sessions import FastSqliteSessionService
from streaming_core.testing.servers import ApiServer

TURNS = 40


def corrupt(db: Path) -> None:
    """What a disk fault or a bad restore leaves: not a database any more."""
    for journal in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        journal.unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)


def sqlite_assistant(db: Path) -> Assistant:
    model = ScriptedLlm(replies=(ScriptedReply(text="a short answer", chunk_size=4),))
    return Assistant(build_agent(model), create_session_service(db))


async def test_many_concurrent_turns_all_complete_and_are_all_saved(tmp_path: Path) -> None:
    assistant = sqlite_assistant(tmp_path / "sessions.db")
    assert isinstance(assistant.session_service, FastSqliteSessionService)

    async def turn(n: int) -> Done:
        events = [event async for event in assistant.stream_turn(f"question {n}")]
        assert isinstance(events[-1], Done)
        return events[-1]

    done = await asyncio.gather(*(turn(n) for n in range(TURNS)))

    assert [d.status for d in done] == ["completed"] * TURNS
    histories = await asyncio.gather(*(assistant.history(str(d.session_id)) for d in done))
    assert all([m.text for m in h] == [f"question {n}", "a short answer"] for n, h in enumerate(histories))


async def test_a_broken_store_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    assistant = sqlite_assistant(db)
    session_id = await assistant.start_conversation()
    corrupt(db)

    with pytest.raises(SessionStoreUnavailable, match="try again in a moment"):
        await assistant.history(session_id)


def test_the_api_answers_503_with_retry_after_when_the_store_fails(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    config = AssistantConfig(backend="scripted")  # persistent: the SQLite store at SESSION_DB
    settings = Settings(backend="scripted", session_db=db)
    with ApiServer(config, settings, ApiLimits(ping_s=0)) as server:
        assert httpx.get(f"{server.url}/chat/stream", params={"query": "hi"}).status_code == 200
        corrupt(db)

        response = httpx.get(f"{server.url}/chat/stream", params={"query": "hi"})

    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["error"] == "store_unavailable" and "Traceback" not in response.text


async def test_a_turn_while_another_process_locks_the_store_ends_with_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    assistant = sqlite_assistant(db)
    session_id = await assistant.start_conversation()
    with closing(sqlite3.connect(db, isolation_level=None)) as other_writer:
        other_writer.execute("BEGIN EXCLUSIVE")  # held past SQLite's 5 s busy timeout
        events = [event async for event in assistant.stream_turn("hello?", session_id=session_id)]
        other_writer.execute("ROLLBACK")

    error, done = events[-2], events[-1]
    assert isinstance(error, StreamError) and error.code == "store" and "try again in a moment" in error.message
    assert isinstance(done, Done) and done.status == "error"
    again = [event async for event in assistant.stream_turn("hello again", session_id=session_id)]
    assert isinstance(again[-1], Done) and again[-1].status == "completed"


async def test_in_memory_sessions_are_bounded_oldest_first() -> None:
    service = BoundedInMemorySessionService(max_sessions=3)
    ids = [(await service.create_session(app_name="app", user_id="u")).id for _ in range(5)]

    kept = [s.id for s in (await service.list_sessions(app_name="app", user_id="u")).sessions]

    assert sorted(kept) == sorted(ids[2:])
