"""SESSION_SERVICE_URI: ADK's URI forms, PostgreSQL through ADK's DatabaseSessionService, clear errors."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from google.adk.sessions.database_session_service import DatabaseSessionService

from streaming_core.backends.scripted import ScriptedReply
from streaming_core.errors import ConfigurationError, SessionStoreUnavailable
from streaming_core.events import Done
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.sessions import BoundedInMemorySessionService
from streaming_core.settings import Settings, load_settings
from streaming_core.sqlite_sessions import FastSqliteSessionService
from streaming_core.stores.sessions import PostgresSessionService, check_session_store, create_session_store
from streaming_core.stores.urls import redact
from streaming_core.testing.datastores import PostgresServer, free_port

CONFIG = AssistantConfig(backend="scripted", script=(ScriptedReply(text="Hello, {message}!", chunk_size=3),))


def test_each_uri_form_picks_its_store(tmp_path: Path, postgres_server: PostgresServer) -> None:
    assert isinstance(create_session_store("memory://"), BoundedInMemorySessionService)
    sqlite = create_session_store(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(sqlite, FastSqliteSessionService)
    asyncio.run(sqlite.list_sessions(app_name="lab", user_id="u"))  # the file is opened on first use
    assert (tmp_path / "a.db").exists()
    assert isinstance(create_session_store(postgres_server.url), DatabaseSessionService)


def test_session_db_stays_the_default(tmp_path: Path) -> None:
    settings = load_settings({"STREAMING_BACKEND": "scripted", "SESSION_DB": str(tmp_path / "s.db")})

    service = build_assistant(CONFIG, settings).session_service

    assert isinstance(service, FastSqliteSessionService)
    asyncio.run(service.list_sessions(app_name="lab", user_id="u"))  # the file is opened on first use
    assert (tmp_path / "s.db").exists()


@pytest.mark.parametrize(
    ("uri", "said"),
    [
        ("mongodb://host/db", "memory://, sqlite://, postgresql://"),
        ("/tmp/sessions.db", "not a supported URL"),
        ("postgresql://u:secret@host/db", "asyncpg"),
        ("sqlite://", "names no file"),
    ],
)
def test_a_bad_uri_is_a_configuration_error_naming_the_variable(uri: str, said: str) -> None:
    with pytest.raises(ConfigurationError, match="SESSION_SERVICE_URI") as raised:
        create_session_store(uri)

    assert said in str(raised.value) and "secret" not in str(raised.value)


def test_redact_removes_the_password_and_query() -> None:
    assert redact("postgresql+asyncpg://lab:pw@db:5432/lab?ssl=x") == "postgresql+asyncpg://lab:***@db:5432/lab?***"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


async def test_an_unreachable_server_at_start_names_the_url_without_the_password() -> None:
    uri = f"postgresql+asyncpg://lab:hunter2@127.0.0.1:{free_port()}/lab"
    service = create_session_store(uri)

    with pytest.raises(SessionStoreUnavailable) as raised:
        await check_session_store(service, uri)

    message = str(raised.value)
    assert "SESSION_SERVICE_URI" in message and "127.0.0.1" in message and "hunter2" not in message


async def test_conversations_in_postgresql_are_shared_by_every_assistant(postgres_server: PostgresServer) -> None:
    settings = replace(Settings(backend="scripted"), session_service_uri=postgres_server.url)
    first, second = build_assistant(CONFIG, settings), build_assistant(CONFIG, settings)
    await asyncio.gather(*(check_session_store(a.session_service, postgres_server.url) for a in (first, second)))

    events = [event async for event in first.stream_turn("Ada")]
    done = events[-1]
    assert isinstance(done, Done) and done.session_id is not None
    session_id = done.session_id

    history = await second.history(session_id)
    assert [(m.role, m.text) for m in history] == [("user", "Ada"), ("assistant", "Hello, Ada!")]
    assert session_id in [c.session_id for c in await second.conversations()]


async def test_a_burst_larger_than_the_pool_queues_instead_of_timing_out(postgres_server: PostgresServer) -> None:
    """Issue 11: 500 concurrent turns on one worker lost 198 answers to 'QueuePool limit ... reached,
    connection timed out'; trips now wait in order for a connection instead of timing out in the pool."""
    service = PostgresSessionService(db_url=postgres_server.url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    await check_session_store(service, postgres_server.url)
    try:
        created = await asyncio.gather(
            *(service.create_session(app_name="lab", user_id=f"burst{n}", state={"n": n}) for n in range(40))
        )
    finally:
        await service.close()

    assert sorted(session.state["n"] for session in created) == list(range(40))
