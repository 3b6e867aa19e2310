"""The run store by RUN_STORE_URL: `memory://` (this process, the default) or `redis://host:port/db`.

A run store starts runs (the answer generated in a task of the worker that started it), finds a
run by id for any worker (resume with Last-Event-ID, DELETE), and cancels it. Both versions give
the same contract; the Redis one keeps the numbered events in a Redis Stream, so any worker can
replay them and they outlive the worker that produced them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from streaming_core.errors import StreamingCoreError
from streaming_core.stores.urls import redact, scheme_of

if TYPE_CHECKING:  # the assistant's own conversation locks use this package
    from streaming_core.assistant import Turn

VARIABLE = "RUN_STORE_URL"


class RunStoreUnavailable(StreamingCoreError):
    """The run store (Redis) failed while a stream was being read or written."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    grace_s: float
    buffer_events: int
    max_runs: int
    turn_timeout_s: float


# What a worker that takes over a dead worker's run does with the text that run streamed:
# keep it in the conversation (app name, user, session, author, text), marked as cut off.
KeepPartial = Callable[[str, str, str, str, str], Awaitable[None]]


class RunHandle(Protocol):
    """One run as a worker sees it; `last_seq` and `finished` are as of the lookup."""

    id: str
    session_id: str

    @property
    def last_seq(self) -> int: ...

    @property
    def finished(self) -> bool: ...

    def attach(self) -> None: ...

    def detach(self) -> None: ...

    def replay(self, after: int) -> AsyncGenerator[list[tuple[int, Any]], None]: ...


class RunStore(Protocol):
    def __len__(self) -> int: ...

    async def open(self, keep_partial: KeepPartial) -> None: ...

    async def count(self) -> int: ...

    async def check_capacity(self) -> None: ...

    async def start(self, turn: Turn, user_id: str) -> RunHandle: ...

    async def find(self, run_id: str, user_id: str) -> RunHandle | None: ...

    async def cancel(self, run: RunHandle) -> None: ...

    async def aclose(self) -> None: ...


def create_run_store(url: str, settings: RunSettings) -> RunStore:
    """The store for `url`; a ConfigurationError naming RUN_STORE_URL if it is not one. Create it on the
    serving loop: its tasks and connections belong to that loop."""
    scheme = scheme_of(url, VARIABLE, ("memory", "redis"))
    if scheme == "memory":
        from streaming_core.api.runs import RunRegistry

        return RunRegistry(settings)
    from streaming_core.stores.redis_runs import RedisRunStore

    return RedisRunStore(url, settings)


def describe(url: str) -> str:
    return f"{redact(url)} ({VARIABLE})"
