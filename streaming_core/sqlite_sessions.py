"""ADK's SQLite session store on one long-lived connection, each operation in one step of the loop.

ADK 2.13's `SqliteSessionService` opens an aiosqlite connection (a new thread) per call and
awaits a thread hop per statement. Here ADK's own methods (their SQL, state merging and stale
session check) run unchanged on a plain `sqlite3` connection whose calls never suspend, so an
operation cannot interleave with another one on the loop: nothing to lock within the process,
and WAL lets other processes read while one writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiosqlite
from google.adk.events.event import Event
from google.adk.sessions import Session
from google.adk.sessions.base_session_service import GetSessionConfig, ListSessionsResponse
from google.adk.sessions.sqlite_session_service import CREATE_SCHEMA_SQL, PRAGMA_FOREIGN_KEYS, SqliteSessionService

from streaming_core.errors import SessionStoreUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long an operation waits for another process's write lock, retrying without blocking the loop.
LOCK_WAIT_S = 5.0


class InlineCursor:
    """The part of aiosqlite's cursor ADK's service uses, over a `sqlite3.Cursor`; never suspends."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, InlineCursor]:
        return self
        yield  # makes this a generator that finishes at once: `await` without suspending

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    async def fetchone(self) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._cursor.fetchone()
        return row

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> sqlite3.Row:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


class InlineConnection:
    """The part of `aiosqlite.Connection` ADK's service uses, run synchronously on the caller's
    thread. Every statement takes microseconds (WAL, no fsync per commit), less than the thread
    hop aiosqlite pays per statement."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return InlineCursor(self._connection.execute(sql, parameters))

    async def execute_fetchall(self, sql: str, parameters: Any = ()) -> list[sqlite3.Row]:
        return self._connection.execute(sql, parameters).fetchall()

    async def executescript(self, script: str) -> None:
        self._connection.executescript(script)

    async def commit(self) -> None:
        self._connection.commit()

    async def rollback(self) -> None:
        self._connection.rollback()


class FastSqliteSessionService(SqliteSessionService):
    """ADK's SQLite store on one connection per service (one service per event loop, as the
    runtime builds them). Storage failures become SessionStoreUnavailable, with a message for people;
    a write lock held by another process is waited for (up to LOCK_WAIT_S) without holding the loop."""

    def __init__(self, db_path: str) -> None:
        super().__init__(db_path)
        self._connection: sqlite3.Connection | None = None
        self._file_mark: tuple[int, int, int] | None = None
        self._wal: int | None = None
        self._orphans: list[sqlite3.Connection] = []  # closed with the service, see _current_connection
        self._operation_running = False

    def _connect(self) -> sqlite3.Connection:
        # timeout=0: a lock held by another process fails at once and `_run` waits for it on the loop.
        connection = sqlite3.connect(self._db_connect_path, uri=self._db_connect_uri, timeout=0)
        try:
            connection.row_factory = aiosqlite.Row
            connection.execute(PRAGMA_FOREIGN_KEYS)
            if self._db_path not in ("", ":memory:"):
                # Persistent; NORMAL syncs the WAL at checkpoints, not at every commit: a killed
                # process loses nothing, a power cut may lose the last turns.
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(CREATE_SCHEMA_SQL)
        except BaseException:
            connection.close()
            raise
        return connection

    def _current_connection(self) -> sqlite3.Connection:
        # A connection kept across operations would go on reading a file replaced under it (a
        # restore, a disk fault) from its cache and orphaned WAL, where ADK's connection per call
        # noticed. Our own operations leave a mark; any other change opens the file afresh.
        if self._connection is not None and self._mark() == self._file_mark:
            return self._connection
        fresh = self._connect()  # raises if the file is no longer a database; the old one stays as is
        stale, self._connection = self._connection, fresh
        if stale is not None:
            if _wal_identity(self._db_path) == self._wal:
                stale.close()
            else:
                # Its WAL was deleted: closing it would checkpoint old pages into the new file.
                self._orphans.append(stale)
        self._wal = _wal_identity(self._db_path)
        return fresh

    def _mark(self) -> tuple[int, int, int] | None:
        return _file_identity(self._db_path)

    @asynccontextmanager
    async def _get_db_connection(self) -> AsyncIterator[aiosqlite.Connection]:
        # Every public method of ADK 2.13's service runs in exactly one of these (pinned in
        # requirements.txt). None of its awaits suspends here, so an operation runs in one step
        # of the loop; a second one starting meanwhile would mean ADK began awaiting something else.
        if self._operation_running:
            raise RuntimeError("ADK's SqliteSessionService suspended inside an operation; pin google-adk 2.13.")
        connection = self._current_connection()
        self._operation_running = True
        try:
            yield InlineConnection(connection)  # type: ignore[misc]  # the aiosqlite subset ADK uses
        except BaseException:
            connection.rollback()
            raise
        finally:
            self._operation_running = False
            self._file_mark = self._mark()

    async def _run(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Runs one ADK operation, again while another process holds the write lock (the attempt
        was rolled back), and turns storage failures into SessionStoreUnavailable."""
        deadline = time.monotonic() + LOCK_WAIT_S
        pause = 0.001
        while True:
            try:
                return await operation()
            except sqlite3.IntegrityError:
                raise  # a bug, not a busy or broken store
            except sqlite3.DatabaseError as error:  # locked, disk I/O, not a database
                if not _is_busy(error) or time.monotonic() + pause > deadline:
                    raise _unavailable(error) from error
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def create_session(
        self,
        *,
        app_name: str,
        user_id: str,
        state: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        create = super().create_session
        return await self._run(lambda: create(app_name=app_name, user_id=user_id, state=state, session_id=session_id))

    async def get_session(
        self, *, app_name: str, user_id: str, session_id: str, config: GetSessionConfig | None = None
    ) -> Session | None:
        get = super().get_session
        return await self._run(lambda: get(app_name=app_name, user_id=user_id, session_id=session_id, config=config))

    async def list_sessions(self, *, app_name: str, user_id: str | None = None) -> ListSessionsResponse:
        listed = super().list_sessions
        return await self._run(lambda: listed(app_name=app_name, user_id=user_id))

    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        delete = super().delete_session
        await self._run(lambda: delete(app_name=app_name, user_id=user_id, session_id=session_id))

    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        user_state = super().get_user_state
        return await self._run(lambda: user_state(app_name=app_name, user_id=user_id))

    async def append_event(self, session: Session, event: Event) -> Event:
        append = super().append_event
        return await self._run(lambda: append(session, event))

    async def close(self) -> None:
        for connection in [self._connection, *self._orphans]:
            if connection is not None:
                connection.close()
        self._connection, self._orphans = None, []


def _is_busy(error: sqlite3.DatabaseError) -> bool:
    # The primary code is the low byte: SQLITE_BUSY_SNAPSHOT and the like are busy too.
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _file_identity(path: str) -> tuple[int, int, int] | None:
    if path in ("", ":memory:"):
        return None
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _wal_identity(db_path: str) -> int | None:
    """The inode of the database's WAL file: the same file, whatever was written to it."""
    identity = _file_identity(db_path + "-wal") if db_path not in ("", ":memory:") else None
    return None if identity is None else identity[0]


def _unavailable(error: sqlite3.Error) -> SessionStoreUnavailable:
    logger.warning("session store failed: %s", error)
    return SessionStoreUnavailable("The conversation store is busy or unavailable; try again in a moment.")
