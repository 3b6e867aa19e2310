"""The conversation store by URI, ADK's forms: `memory://`, `sqlite:///path`, `postgresql+asyncpg://...`.

One factory per scheme (`SESSION_STORES`); the default is the embedded SQLite file at SESSION_DB.
PostgreSQL goes through ADK's own DatabaseSessionService (ADK's registry knows only the bare
`postgresql` scheme, not the asyncpg form its service needs, so the schemes are keyed here).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from google.adk.sessions import BaseSessionService
from google.adk.sessions.database_session_service import DatabaseSessionService
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from streaming_core.errors import ConfigurationError, SessionStoreUnavailable
from streaming_core.sessions import BoundedInMemorySessionService, create_session_service
from streaming_core.settings import Settings
from streaming_core.stores.postgres_sessions import POOL_RECYCLE_S, PostgresSessionService
from streaming_core.stores.urls import redact, scheme_of

logger = logging.getLogger(__name__)

VARIABLE = "SESSION_SERVICE_URI"


def default_uri(session_db: Path) -> str:
    """SESSION_DB as a URI: `sqlite:///relative/path` or `sqlite:////absolute/path`, as ADK writes them."""
    return f"sqlite:///{session_db}"


def _memory(uri: str) -> BaseSessionService:
    return BoundedInMemorySessionService()


def _sqlite(uri: str) -> BaseSessionService:
    path = urlsplit(uri).path.removeprefix("/")  # ADK's reading: sqlite:///a.db is relative, ////a.db absolute
    if not path:
        raise ConfigurationError(f"{VARIABLE}={uri!r} names no file; use sqlite:///path/to/sessions.db")
    return create_session_service(Path(path))


def _postgresql(uri: str) -> BaseSessionService:
    if not uri.startswith("postgresql+asyncpg://"):
        raise ConfigurationError(
            f"{VARIABLE}={redact(uri)!r}: use the asyncpg driver, postgresql+asyncpg://user:password@host:port/db"
        )
    try:
        return PostgresSessionService(db_url=uri, pool_timeout=60, pool_pre_ping=False, pool_recycle=POOL_RECYCLE_S)
    except ValueError as error:  # ADK's message already has the password removed
        raise ConfigurationError(f"{VARIABLE}: {error}") from None


SESSION_STORES: dict[str, Callable[[str], BaseSessionService]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


def create_session_store(uri: str) -> BaseSessionService:
    """The session service for `uri`; a ConfigurationError naming SESSION_SERVICE_URI if it is not one."""
    return SESSION_STORES[scheme_of(uri, VARIABLE, tuple(SESSION_STORES))](uri)


def session_store_uri(settings: Settings) -> str:
    return settings.session_service_uri or default_uri(settings.session_db)


async def check_session_store_reachable(settings: Settings) -> None:
    """At start-up: a server store that cannot be reached fails now, with its URL, not on the first turn."""
    uri = session_store_uri(settings)
    service = create_session_store(uri)
    if isinstance(service, DatabaseSessionService):
        try:
            await check_session_store(service, uri)
        finally:
            await service.close()


async def check_session_store(service: BaseSessionService, uri: str) -> None:
    """Connects once (and creates ADK's tables), so an unreachable server is reported at start-up."""
    if not isinstance(service, DatabaseSessionService):
        return
    try:
        for attempt in range(3):
            try:
                await service.prepare_tables()
                return
            except (IntegrityError, ProgrammingError):
                # Workers starting at once race to create ADK's tables ("already exists"); the loser
                # finds them made on the next try.
                if attempt == 2:
                    raise
                service._tables_created = False
                await asyncio.sleep(0.2 * (attempt + 1))
    except (DBAPIError, PoolTimeout, OSError) as error:
        raise SessionStoreUnavailable(
            f"Cannot reach the conversation store {redact(uri)} ({VARIABLE}): {type(error).__name__}. "
            "Start the database server or fix the URL."
        ) from None
