"""PostgresSessionService's one-statement create, read and append (issue 11) against a real
PostgreSQL, checked against ADK's own DatabaseSessionService reading the same tables."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from google.adk.errors._stale_session_error import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions import Session
from google.adk.sessions.base_session_service import GetSessionConfig
from google.adk.sessions.database_session_service import DatabaseSessionService
from google.genai import types
from sqlalchemy import event as sqlalchemy_event

from streaming_core.backends.scripted import ScriptedReply
from streaming_core.errors import SessionStoreUnavailable
from streaming_core.events import Done
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.sessions import messages_from_events
from streaming_core.settings import Settings
from streaming_core.stores.postgres_sessions import MAX_OVERFLOW, POOL_SIZE, PostgresSessionService
from streaming_core.stores.sessions import check_session_store
from streaming_core.testing.datastores import POSTGRES_USER, PostgresServer
from streaming_core.visitors import DEFAULT_USER

APP = "lab"


@pytest.fixture
async def ours(postgres_server: PostgresServer) -> AsyncIterator[PostgresSessionService]:
    service = PostgresSessionService(db_url=postgres_server.url)
    await check_session_store(service, postgres_server.url)
    yield service
    await service.close()


@pytest.fixture
async def adks(postgres_server: PostgresServer) -> AsyncIterator[DatabaseSessionService]:
    service = DatabaseSessionService(db_url=postgres_server.url)
    yield service
    await service.close()


def said(author: str, text: str, delta: dict[str, Any] | None = None) -> Event:
    return Event(
        author=author,
        invocation_id="inv",
        content=types.Content(role="user" if author == "user" else "model", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=delta or {}),
    )


def view(session: Session | None) -> tuple[Any, ...]:
    assert session is not None
    events = [event.model_dump(mode="json") for event in session.events]
    return session.id, session.state, events, session.last_update_time, session._storage_update_marker


def texts(session: Session | None) -> list[str | None]:
    assert session is not None
    return [part.text for event in session.events if event.content for part in event.content.parts or ()]


def statements_of(service: PostgresSessionService) -> list[str]:
    sent: list[str] = []
    sqlalchemy_event.listen(service.db_engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    return sent


async def test_a_conversation_reads_back_as_adks_own_service_sees_it(
    ours: PostgresSessionService, adks: DatabaseSessionService
) -> None:
    session = await ours.create_session(app_name=APP, user_id="ada", state={"title": "t"})
    await ours.append_event(session, said("user", "hi", {"count": 1, "temp:scratch": "x"}))
    await ours.append_event(session, said("agent", "hello", {"app:theme": "dark", "user:lang": "en"}))
    await ours.append_event(session, said("agent", "again", {"count": 2}))

    mine = await ours.get_session(app_name=APP, user_id="ada", session_id=session.id)
    theirs = await adks.get_session(app_name=APP, user_id="ada", session_id=session.id)

    assert view(mine) == view(theirs)
    assert mine is not None and mine.state == {"title": "t", "count": 2, "app:theme": "dark", "user:lang": "en"}
    assert texts(mine) == ["hi", "hello", "again"]
    assert session.state == {**mine.state, "temp:scratch": "x"}  # temp: state lives in memory only
    assert session._storage_update_marker == mine._storage_update_marker


async def test_a_new_session_merges_the_app_and_user_state_as_adk_does(
    ours: PostgresSessionService, adks: DatabaseSessionService
) -> None:
    first = await adks.create_session(app_name="merge", user_id="bo", state={"app:plan": "pro", "user:name": "Bo"})

    created = await ours.create_session(app_name="merge", user_id="bo", state={"title": "second"})
    theirs = await adks.get_session(app_name="merge", user_id="bo", session_id=created.id)

    assert created.state == {"title": "second", "app:plan": "pro", "user:name": "Bo"}
    assert view(created) == view(theirs)
    assert first.id != created.id


@pytest.mark.parametrize(
    "config",
    [GetSessionConfig(num_recent_events=0), GetSessionConfig(num_recent_events=2), GetSessionConfig(after_timestamp=0)],
    ids=["none", "last-two", "after"],
)
async def test_a_partial_read_returns_the_events_adk_returns(
    ours: PostgresSessionService, adks: DatabaseSessionService, config: GetSessionConfig
) -> None:
    session = await ours.create_session(app_name=APP, user_id="cy")
    for n in range(4):
        await ours.append_event(session, said("user", f"m{n}"))
    if config.after_timestamp is not None:
        config = GetSessionConfig(after_timestamp=session.events[2].timestamp)

    mine = await ours.get_session(app_name=APP, user_id="cy", session_id=session.id, config=config)
    theirs = await adks.get_session(app_name=APP, user_id="cy", session_id=session.id, config=config)

    assert view(mine) == view(theirs)


async def test_an_append_to_a_session_changed_since_it_was_read_is_stale(ours: PostgresSessionService) -> None:
    created = await ours.create_session(app_name=APP, user_id="di")
    first = await ours.get_session(app_name=APP, user_id="di", session_id=created.id)
    second = await ours.get_session(app_name=APP, user_id="di", session_id=created.id)
    assert first is not None and second is not None
    await ours.append_event(first, said("user", "one"))

    with pytest.raises(StaleSessionError):
        await ours.append_event(second, said("user", "two"))

    stored = await ours.get_session(app_name=APP, user_id="di", session_id=created.id)
    assert stored is not None and texts(stored) == ["one"]


async def test_an_append_to_a_deleted_session_is_session_not_found(ours: PostgresSessionService) -> None:
    session = await ours.create_session(app_name=APP, user_id="ed")
    await ours.delete_session(app_name=APP, user_id="ed", session_id=session.id)

    with pytest.raises(SessionNotFoundError):
        await ours.append_event(session, said("user", "anyone?"))


async def test_a_taken_session_id_is_already_exists(ours: PostgresSessionService) -> None:
    await ours.create_session(app_name=APP, user_id="fa", session_id="taken")

    with pytest.raises(AlreadyExistsError):
        await ours.create_session(app_name=APP, user_id="fa", session_id="taken")


async def test_the_read_after_a_create_is_answered_from_memory_only_once_in_that_task(
    ours: PostgresSessionService,
) -> None:
    sent = statements_of(ours)
    created = await ours.create_session(app_name=APP, user_id="gu", state={"title": "t"})
    read = functools.partial(ours.get_session, app_name=APP, user_id="gu", session_id=created.id)
    sent.clear()

    elsewhere = await asyncio.create_task(read(), context=contextvars.Context())
    read_elsewhere = len(sent)
    runner_read = await read()
    read_by_runner = len(sent) - read_elsewhere
    again = await read()

    assert read_elsewhere > 0 and read_by_runner == 0 and len(sent) > read_elsewhere
    assert view(runner_read) == view(elsewhere) == view(again) == view(created)
    assert runner_read is not created  # the runner's copy is its own to change


async def test_an_append_after_the_create_makes_the_next_read_go_to_storage(ours: PostgresSessionService) -> None:
    created = await ours.create_session(app_name=APP, user_id="ha")
    await ours.append_event(created.model_copy(deep=True), said("user", "first"))

    read = await ours.get_session(app_name=APP, user_id="ha", session_id=created.id)

    assert read is not None and len(read.events) == 1


async def test_a_burst_opens_its_connections_once_and_the_next_burst_reuses_them(
    ours: PostgresSessionService,
) -> None:
    """Issue 11: overflow connections were closed on return and opened again by every burst, a
    PostgreSQL backend forked each time (0.7 per paced turn, ten times the CPU of its statements)."""
    opened: list[object] = []
    sqlalchemy_event.listen(ours.db_engine.sync_engine, "connect", lambda *_: opened.append(None))
    burst = POOL_SIZE + MAX_OVERFLOW + 10

    async def create_all() -> None:
        await asyncio.gather(*(ours.create_session(app_name=APP, user_id="burst") for _ in range(burst)))

    await create_all()
    first = len(opened)
    await create_all()

    assert first > 0
    assert len(opened) == first


async def test_turns_through_the_assistant_are_stored_as_adk_stores_them(
    postgres_server: PostgresServer, adks: DatabaseSessionService
) -> None:
    config = AssistantConfig(backend="scripted", script=(ScriptedReply(text="Hello, {message}!", chunk_size=4),))
    assistant = build_assistant(config, replace(Settings(backend="scripted"), session_service_uri=postgres_server.url))
    await check_session_store(assistant.session_service, postgres_server.url)

    first = [event async for event in assistant.stream_turn("Ada")][-1]
    assert isinstance(first, Done) and first.session_id is not None
    second = [event async for event in assistant.stream_turn("Bo", session_id=first.session_id)][-1]
    mine = await assistant.session_service.get_session(
        app_name=assistant.app_name, user_id=DEFAULT_USER, session_id=first.session_id
    )
    theirs = await adks.get_session(app_name=assistant.app_name, user_id=DEFAULT_USER, session_id=first.session_id)
    await assistant.session_service.close()  # type: ignore[attr-defined]

    assert isinstance(second, Done) and second.status == "completed"
    assert view(mine) == view(theirs)
    assert mine is not None
    assert [m.text for m in messages_from_events(mine.events, answering=False)] == [
        "Ada",
        "Hello, Ada!",
        "Bo",
        "Hello, Bo!",
    ]


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:  # restarted by the test: not the session's shared one
        yield server


async def test_a_stopped_postgresql_fails_clearly_then_the_same_append_lands(own_postgres: PostgresServer) -> None:
    service = PostgresSessionService(db_url=own_postgres.url)
    await check_session_store(service, own_postgres.url)
    try:
        session = await service.create_session(app_name=APP, user_id="ib")
        await asyncio.to_thread(own_postgres.stop, keep_data=True)
        with pytest.raises(SessionStoreUnavailable, match="unreachable"):
            await service.append_event(session, said("user", "lost?"))
        await asyncio.to_thread(own_postgres.start)

        await service.append_event(session, said("user", "kept"))
        stored = await service.get_session(app_name=APP, user_id="ib", session_id=session.id)
    finally:
        await service.close()

    assert stored is not None and texts(stored) == ["kept"]


async def test_workers_starting_together_on_a_new_database_prepare_its_tables_one_at_a_time(
    postgres_server: PostgresServer,
) -> None:
    # Without the advisory lock, every one of ten tries failed: two services creating ADK's tables
    # at once collide in PostgreSQL's catalog (duplicate pg_type entry).
    name = f"fresh_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(host="127.0.0.1", port=postgres_server.port, user=POSTGRES_USER, database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = postgres_server.url.rsplit("/", 1)[0] + f"/{name}"
    workers = [PostgresSessionService(db_url=url) for _ in range(4)]
    try:
        await asyncio.gather(*(worker.prepare_tables() for worker in workers))
        session = await workers[0].create_session(app_name=APP, user_id="ada")
        assert await workers[3].get_session(app_name=APP, user_id="ada", session_id=session.id) is not None
    finally:
        await asyncio.gather(*(worker.close() for worker in workers))
