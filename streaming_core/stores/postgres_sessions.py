"""ADK's DatabaseSessionService on PostgreSQL in four round trips per new-conversation turn, not 31.

ADK's tables, state merging, stale-session check and errors; a create, a read and an append are
each one statement outside a transaction (postgres_statements), ADK's own methods still do the rare
cases (app:/user: state deltas, the legacy schema), and the runner's read of the session its turn
just created is answered from what the create returned (issue 11).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.adk.errors._stale_session_error import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.platform import time as platform_time
from google.adk.platform import uuid as platform_uuid
from google.adk.sessions import Session, _session_util
from google.adk.sessions.base_session_service import GetSessionConfig, ListSessionsResponse
from google.adk.sessions.database_session_service import (
    _STALE_SESSION_ERROR_MESSAGE,
    DatabaseSessionService,
    _merge_state,
)
from google.adk.sessions.migration._schema_check_utils import LATEST_SCHEMA_VERSION
from google.adk.sessions.schemas.v1 import StorageEvent, StorageSession
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from streaming_core.errors import SessionStoreUnavailable
from streaming_core.stores import postgres_statements as sql

logger = logging.getLogger(__name__)

T = TypeVar("T")
SessionKey = tuple[str, str, str]  # (app_name, user_id, session_id), as ADK keys its session locks

# One worker's PostgreSQL connections; PostgreSQL's default max_connections is 100, room for a few
# workers. A burst of hundreds of turns per worker queues for them in PostgresSessionService's
# semaphore, in order and without a time limit, not in SQLAlchemy's pool, whose pool_timeout failed
# the turns queued longest (500 concurrent turns on one worker lost 198 at 10 s, issue 11).
# pool_timeout is then only a backstop. All of them pooled, none overflow: SQLAlchemy closes an
# overflow connection when it is returned, and the next burst opens it again, a PostgreSQL backend
# forked and a connection set up each time; at 10 + 20 overflow, 100 paced turns opened 0.7
# connections per turn, which cost PostgreSQL 10 times the CPU of the turn's statements (issue 11).
POOL_SIZE, MAX_OVERFLOW = 30, 0
# No pool_pre_ping (ADK's default), whose SELECT 1 is one more round trip on every trip: a pooled
# connection a PostgreSQL restart killed fails its first statement as a disconnect, which makes
# SQLAlchemy drop every connection of the pool made before it, and the trip is tried once more on a
# new one. pool_recycle retires connections a server or a proxy may have closed while idle.
POOL_RECYCLE_S = 300
# Sessions created and not yet read back; a session created and never run (start_conversation)
# is forgotten after this many newer ones.
FRESH_SESSIONS = 256

# A session-level advisory lock (any constant of our own) held while the tables are prepared.
SCHEMA_LOCK_KEY = 0x41444B5F4C4142  # "ADK_LAB"
_LOCK_SCHEMA = text("SELECT pg_advisory_lock(:key)")
_UNLOCK_SCHEMA = text("SELECT pg_advisory_unlock(:key)")

# The session the current task created (and the tasks it starts, such as the API's run task, which
# copy its context): only that turn's runner is answered from memory.
_created_here: ContextVar[SessionKey | None] = ContextVar("created_here", default=None)


class PostgresSessionService(DatabaseSessionService):
    """ADK's DatabaseSessionService whose storage failures become SessionStoreUnavailable, as the
    SQLite store's do, so a database restart ends a stream with an error event, not a traceback; and
    whose trips wait their turn for one of the pool's connections (`trips`), so a burst queues."""

    def __init__(
        self, db_url: str, *, pool_size: int = POOL_SIZE, max_overflow: int = MAX_OVERFLOW, **kwargs: Any
    ) -> None:
        super().__init__(db_url, pool_size=pool_size, max_overflow=max_overflow, **kwargs)
        self.trips = asyncio.Semaphore(pool_size + max_overflow)  # at most one trip per connection
        # Under READ COMMITTED (PostgreSQL's default) each statement reads its own snapshot whether or
        # not it is in a transaction, so ADK's reads lose nothing without one, and skip BEGIN and ROLLBACK.
        self._autocommit = self.db_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_only_database_session_factory = async_sessionmaker(bind=self._autocommit, expire_on_commit=False)
        self._fresh: OrderedDict[SessionKey, Session] = OrderedDict()

    async def prepare_tables(self) -> None:
        """ADK's, one process at a time: workers starting together on a new database otherwise race
        to create the same tables ("duplicate key value violates unique constraint
        pg_type_typname_nsp_index") or read the schema version before another has written it."""
        if self._tables_created:
            return
        # The lock's connection is its own, not the pool's: preparing needs the pool's connections.
        locking = create_async_engine(self.db_engine.url, poolclass=NullPool)
        try:
            async with locking.connect() as lock:
                await lock.execute(_LOCK_SCHEMA, {"key": SCHEMA_LOCK_KEY})
                try:
                    await super().prepare_tables()
                finally:
                    await lock.execute(_UNLOCK_SCHEMA, {"key": SCHEMA_LOCK_KEY})
        finally:
            await locking.dispose()

    async def _trip(self, call: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        # No nesting: none of ADK's methods calls another public one, so a trip holds one permit.
        async with self.trips:
            try:
                try:
                    return await call(**kwargs)
                except DBAPIError as error:
                    # A dead pooled connection fails before its statement ran, so once more is safe (an
                    # append whose commit did land is refused by the stale-session check, not doubled).
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
        session = await self._trip(self._create, app_name=app_name, user_id=user_id, state=state, session_id=session_id)
        key = (app_name, user_id, session.id)
        self._fresh[key] = session.model_copy(deep=True)
        while len(self._fresh) > FRESH_SESSIONS:
            self._fresh.popitem(last=False)
        _created_here.set(key)
        return session

    async def get_session(
        self, *, app_name: str, user_id: str, session_id: str, config: GetSessionConfig | None = None
    ) -> Session | None:
        key = (app_name, user_id, session_id)
        if config is None and _created_here.get() == key and (fresh := self._fresh.pop(key, None)) is not None:
            # The runner reading the session its turn just created, untouched since (an append or a
            # delete in this process forgets it): what the create returned is what storage holds. A
            # write from another process in between (it would have to learn the new id first) still
            # fails the next append as stale, as with ADK's own read.
            return fresh
        return await self._trip(self._get, app_name=app_name, user_id=user_id, session_id=session_id, config=config)

    async def list_sessions(self, *, app_name: str, user_id: str | None = None) -> ListSessionsResponse:
        return await self._trip(super().list_sessions, app_name=app_name, user_id=user_id)

    async def delete_session(self, app_name: str, user_id: str, session_id: str) -> None:
        self._fresh.pop((app_name, user_id, session_id), None)
        await self._trip(super().delete_session, app_name=app_name, user_id=user_id, session_id=session_id)

    async def append_event(self, session: Session, event: Event) -> Event:
        if event.partial:  # ADK stores none
            return event
        self._fresh.pop((session.app_name, session.user_id, session.id), None)
        return await self._trip(self._append, session=session, event=event)

    async def _fast(self, state_delta: dict[str, Any] | None) -> dict[str, Any] | None:
        """The session part of `state_delta` if one statement can do ADK's work, else None: ADK's
        own method handles app:/user: deltas and the legacy schema."""
        await self.prepare_tables()
        deltas = _session_util.extract_json_safe_state_delta(state_delta or {})
        if deltas["app"] or deltas["user"] or self._db_schema_version != LATEST_SCHEMA_VERSION:
            return None
        return deltas["session"]

    async def _create(
        self, *, app_name: str, user_id: str, state: dict[str, Any] | None, session_id: str | None
    ) -> Session:
        session_state = await self._fast(state)
        if session_state is None:
            return await super().create_session(app_name=app_name, user_id=user_id, state=state, session_id=session_id)
        now = datetime.fromtimestamp(platform_time.get_time(), UTC).replace(tzinfo=None)
        names = {"app_name": app_name, "user_id": user_id, "session_id": session_id or platform_uuid.new_uuid()}
        async with self._autocommit.connect() as connection:
            try:
                made = (await connection.execute(sql.CREATE, {**names, "state": session_state, "now": now})).one()
            except IntegrityError:  # the session id given is taken
                raise AlreadyExistsError(f"Session with id {names['session_id']} already exists.") from None
            app_state, user_state = made.app_state, made.user_state
            if (app_state is None and not made.app_made) or (user_state is None and not made.user_made):
                app_state, user_state = (await connection.execute(sql.STATES, names)).one()
        stored = StorageSession(
            app_name=app_name,
            user_id=user_id,
            id=names["session_id"],
            state=session_state,
            create_time=now,
            update_time=now,
        )
        return stored.to_session(state=_merge_state(app_state or {}, user_state or {}, session_state))

    async def _get(
        self, *, app_name: str, user_id: str, session_id: str, config: GetSessionConfig | None
    ) -> Session | None:
        await self.prepare_tables()
        if self._db_schema_version != LATEST_SCHEMA_VERSION:
            return await super().get_session(app_name=app_name, user_id=user_id, session_id=session_id, config=config)
        async with self._autocommit.connect() as connection:
            row = (
                await connection.execute(sql.SESSION, _read_parameters(app_name, user_id, session_id, config))
            ).first()
        if row is None:
            return None
        stored = StorageSession(
            app_name=app_name,
            user_id=user_id,
            id=session_id,
            state=row.state,
            create_time=row.create_time,
            update_time=row.update_time,
        )
        events = [_event(stored_event) for stored_event in reversed(row.events)]
        state = _merge_state(row.app_state or {}, row.user_state or {}, row.state)
        return stored.to_session(state=state, events=events)

    async def _append(self, session: Session, event: Event) -> Event:
        session_delta = await self._fast(event.actions.state_delta)
        if session_delta is None or session._storage_update_marker is None:
            return await super().append_event(session, event)
        self._apply_temp_state(session, event)
        event = self._trim_temp_delta_state(event)
        stored = StorageEvent.from_event(session, event)
        update_time = datetime.fromtimestamp(event.timestamp, UTC).replace(tzinfo=None)
        names = {"app_name": session.app_name, "user_id": session.user_id, "session_id": session.id}
        async with self._with_session_lock(**names), self._autocommit.connect() as connection:
            appended = await connection.execute(
                sql.APPEND,
                {
                    **names,
                    "update_time": update_time,
                    "marker": datetime.fromisoformat(session._storage_update_marker),
                    "has_delta": bool(session_delta),
                    "delta": session_delta,
                    "event_id": stored.id,
                    "invocation_id": stored.invocation_id,
                    "timestamp": stored.timestamp,
                    "event_data": stored.event_data,
                },
            )
            if appended.first() is None:
                await self._raise_why_not_appended(connection, names)
        session.last_update_time = update_time.replace(tzinfo=UTC).timestamp()
        session._storage_update_marker = update_time.isoformat(timespec="microseconds")
        return self._commit_event_to_session(session, event)

    @staticmethod
    async def _raise_why_not_appended(connection: AsyncConnection, names: dict[str, str]) -> None:
        sessions, apps, users = (await connection.execute(sql.WHY_NOT_APPENDED, names)).one()
        app_name, user_id = names["app_name"], names["user_id"]
        if not sessions:
            raise SessionNotFoundError(f"Session {names['session_id']} not found.")
        if not apps:
            raise ValueError(
                f"App state missing for app_name={app_name!r}. "
                "Session state tables should be initialized by create_session."
            )
        if not users:
            raise ValueError(
                f"User state missing for app_name={app_name!r}, user_id={user_id!r}. "
                "Session state tables should be initialized by create_session."
            )
        raise StaleSessionError(_STALE_SESSION_ERROR_MESSAGE)


def _read_parameters(app_name: str, user_id: str, session_id: str, config: GetSessionConfig | None) -> dict[str, Any]:
    """Events as ADK reads them: none for `num_recent_events=0`, else from `after_timestamp` on, at
    most `num_recent_events`."""
    after = None
    if config is not None and config.after_timestamp:
        after = datetime.fromtimestamp(config.after_timestamp, UTC).replace(tzinfo=None)
    limit = None if config is None else config.num_recent_events
    return {"app_name": app_name, "user_id": user_id, "session_id": session_id, "after": after, "limit": limit}


def _event(stored: dict[str, Any]) -> Event:
    """ADK's conversion of an events row, from its JSON form (the timestamp an ISO string)."""
    timestamp = datetime.fromisoformat(stored["timestamp"])
    return StorageEvent(
        id=stored["id"], invocation_id=stored["invocation_id"], timestamp=timestamp, event_data=stored["event_data"]
    ).to_event()


def _unavailable(error: Exception) -> SessionStoreUnavailable:
    logger.warning("session store failed: %s", error)
    return SessionStoreUnavailable("The conversation store is unreachable or failing; try again in a moment.")


def _storage_failure(error: Exception) -> bool:
    # IntegrityError is a bug, not an unreachable store; the rest: refused, reset, restarted, pool exhausted.
    return isinstance(error, (DBAPIError, PoolTimeout, OSError)) and not isinstance(error, IntegrityError)
