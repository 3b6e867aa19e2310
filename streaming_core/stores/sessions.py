"""The conversation store by URI, ADK's forms: `memory://`, `sqlite:///path`, `postgresql+asyncpg://...`.

One factory per scheme (`SESSION_STORES`); the default is the embedded SQLite file at SESSION_DB.
PostgreSQL goes through ADK's own DatabaseSessionService (ADK's registry knows only the bare
`postgresql` scheme, not the asyncpg form its service needs, so the schemes are keyed here).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from google.adk.events.event import Event
from google.adk.sessions import BaseSessionService, Session
from google.adk.sessions.base_session_service import GetSessionConfig, ListSessionsResponse
from google.adk.sessions.database_session_service import DatabaseSessionService
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from streaming_core.errors import ConfigurationError, SessionStoreUnavailable
from streaming_core.sessions import BoundedInMemorySessionService, create_session_service
from streaming_core.settings import Settings
from streaming_core.stores.urls import redact, scheme_of

logger = logging.getLogger(__name__)

VARIABLE = "SESSION_SERVICE_URI"
T = TypeVar("T")

# One worker's PostgreSQL connections; PostgreSQL's default max_connections is 100, room for a few
# workers. A turn makes five short trips (create or read the session, ADK's read, two appends, the
# usage read); a burst of hundreds of turns per worker queues for them in PostgresSessionService's
# semaphore, in order and without a time limit, not in SQLAlchemy's pool, whose pool_timeout failed
# the turns queued longest (500 concurrent turns on one worker lost 198 at 10 s, issue 11).
# pool_timeout is then only a backstop.
POOL_SIZE, MAX_OVERFLOW = 10, 20
# No pool_pre_ping (ADK's default), whose SELECT 1 is one more round trip on every trip: a pooled
# connection a PostgreSQL restart killed fails its first statement as a disconnect, which makes
# SQLAlchemy drop every connection of the pool made before it, and the trip is tried once more on a
# new one. pool_recycle retires connections a server or a proxy may have closed while idle.
POOL_RECYCLE_S = 300


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


def _unavailable(error: Exception) -> SessionStoreUnavailable:
    logger.warning("session store failed: %s", error)
    return SessionStoreUnavailable("The conversation store is unreachable or failing; try again in a moment.")


def _storage_failure(error: Exception) -> bool:
    # IntegrityError is a bug, not an unreachable store; the rest: refused, reset, restarted, pool exhausted.
    return isinstance(error, (DBAPIError, PoolTimeout, OSError)) and not isinstance(error, IntegrityError)


class PostgresSessionService(DatabaseSessionService):
    """ADK's DatabaseSessionService whose storage failures become SessionStoreUnavailable, as the
    SQLite store's do, so a database restart ends a stream with an error event, not a traceback; and
    whose trips wait their turn for one of the pool's connections (`trips`), so a burst queues."""

    def __init__(
        self, db_url: str, *, pool_size: int = POOL_SIZE, max_overflow: int = MAX_OVERFLOW, **kwargs: Any
    ) -> None:
        super().__init__(db_url, pool_size=pool_size, max_overflow=max_overflow, **kwargs)
        self.trips = asyncio.Semaphore(pool_size + max_overflow)  # at most one trip per connection

    async def _trip(self, call: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        # No nesting: none of ADK's methods calls another public one, so a trip holds one permit.
        async with self.trips:
            try:
                try:
                    return await call(**kwargs)
                except DBAPIError as error:
                    # A dead pooled connection fails before its statement ran, so once more is safe (an
                    # append whose commit did land is refused by ADK's stale-session check, not doubled).
                    if not error.connection_invalidated:
                        raise
                    logger.info("a pooled connection was dead (PostgreSQL restarted?); trying once more")
                return await call(**kwargs)
            except Exception as error:
                if _storage_failure(error):
                    raise _unavailable(error) from error
                raise

    async def create_session(
        self, *, app_name: str, user_id: str, state: dict[str, Any] | None = None, session_id: str | None = None
    ) -> Session:
        return await self._trip(
            super().create_session, app_name=app_name, user_id=user_id, state=state, session_id=session_id
        )

    async def get_session(
        self, *, app_name: str, user_id: str, session_id: str, config: GetSessionConfig | None = None
    ) -> Session | None:
        return await self._trip(
            super().get_session, app_name=app_name, user_id=user_id, session_id=session_id, config=config
        )

    async def list_sessions(self, *, app_name: str, user_id: str | None = None) -> ListSessionsResponse:
        return await self._trip(super().list_sessions, app_name=app_name, user_id=user_id)

    async def delete_session(self, app_name: str, user_id: str, session_id: str) -> None:
        await self._trip(super().delete_session, app_name=app_name, user_id=user_id, session_id=session_id)

    async def append_event(self, session: Session, event: Event) -> Event:
        return await self._trip(super().append_event, session=session, event=event)
