"""FastSqliteSessionService: ADK's SQLite store on one long-lived connection, as safe as before."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from google.adk.errors._stale_session_error import StaleSessionError
from google.adk.events.event import Event
from google.genai import types

from streaming_core.sqlite_sessions import FastSqliteSessionService

APP, USER = "app", "user"


def said(text: str, author: str = "user") -> Event:
    return Event(author=author, invocation_id="inv", content=types.Content(role="user", parts=[types.Part(text=text)]))


async def test_events_and_state_are_read_back_by_a_new_service(tmp_path: Path) -> None:
    db = str(tmp_path / "sessions.db")
    writer = FastSqliteSessionService(db)
    session = await writer.create_session(app_name=APP, user_id=USER, state={"title": "hello"})
    for text in ("one", "two"):
        await writer.append_event(session, said(text))
    await writer.close()

    restarted = await FastSqliteSessionService(db).get_session(app_name=APP, user_id=USER, session_id=session.id)

    assert restarted is not None and restarted.state == {"title": "hello"}
    assert [e.content.parts[0].text for e in restarted.events if e.content and e.content.parts] == ["one", "two"]


async def test_a_write_through_a_stale_session_copy_is_still_refused(tmp_path: Path) -> None:
    service = FastSqliteSessionService(str(tmp_path / "sessions.db"))
    session = await service.create_session(app_name=APP, user_id=USER)
    first = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
    second = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
    assert first is not None and second is not None
    await service.append_event(first, said("from one tab"))

    with pytest.raises(StaleSessionError):
        await service.append_event(second, said("from another tab"))


async def test_two_services_on_one_file_lose_nothing_under_concurrent_writes(tmp_path: Path) -> None:
    db = str(tmp_path / "sessions.db")
    services = [FastSqliteSessionService(db), FastSqliteSessionService(db)]

    async def conversation(n: int) -> str:
        service = services[n % 2]
        session = await service.create_session(app_name=APP, user_id=USER)
        for turn in range(3):
            await service.append_event(session, said(f"{n}.{turn}"))
        return session.id

    ids = await asyncio.gather(*(conversation(n) for n in range(30)))

    for n, session_id in enumerate(ids):
        read = await services[(n + 1) % 2].get_session(app_name=APP, user_id=USER, session_id=session_id)
        assert read is not None and [e.content.parts[0].text for e in read.events] == [f"{n}.{t}" for t in range(3)]


async def test_a_write_waits_for_another_processs_lock_without_holding_the_loop(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    service = FastSqliteSessionService(str(db))
    session = await service.create_session(app_name=APP, user_id=USER)
    with closing(sqlite3.connect(db, isolation_level=None)) as other_writer:
        other_writer.execute("BEGIN IMMEDIATE")
        append = asyncio.create_task(service.append_event(session, said("queued behind the lock")))
        for _ in range(10):
            await asyncio.sleep(0)  # the loop keeps running while the append waits
        assert not append.done()
        other_writer.execute("ROLLBACK")
        await append

    read = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
    assert read is not None and [e.content.parts[0].text for e in read.events] == ["queued behind the lock"]


async def test_in_memory_database_keeps_its_sessions_between_calls() -> None:
    service = FastSqliteSessionService(":memory:")
    session = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(session, said("kept"))

    listed = await service.list_sessions(app_name=APP, user_id=USER)

    assert [s.id for s in listed.sessions] == [session.id]
