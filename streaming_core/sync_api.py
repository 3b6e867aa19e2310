"""Sync entry points for script threads (Streamlit): everything runs on the background loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import aclosing
from typing import TypeVar

from google.adk.agents.run_config import StreamingMode

from streaming_core.assistant import Assistant
from streaming_core.backends import resolve_backend
from streaming_core.bridge import get_background_loop
from streaming_core.events import Heartbeat, StreamEvent
from streaming_core.quotas import GuardedTurn, admit_turn
from streaming_core.runtime import AssistantConfig, get_assistant
from streaming_core.settings import load_settings
from streaming_core.visitors import DEFAULT_USER

T = TypeVar("T")


def stream_turn_sync(
    message: str,
    config: AssistantConfig,
    *,
    session_id: str | None = None,
    user_id: str = DEFAULT_USER,
    mode: StreamingMode | str = StreamingMode.SSE,
    timeout_s: float | None = None,
    heartbeat: float = 0.1,
    visitor: str | None = None,
) -> Generator[StreamEvent | Heartbeat, None, None]:
    """One turn as a plain generator. Closing it early cancels the model call. With a `visitor`
    key the turn counts against that visitor's quotas: QuotaExceeded comes before any event.
    A burst of deltas is handed over at the pages' redraw rate (STREAM_UPDATE_INTERVAL_S)."""
    settings = load_settings()

    async def start() -> AsyncIterator[StreamEvent]:
        backend = resolve_backend(config.backend, settings).name
        admission = await admit_turn(visitor, backend)
        try:
            turn = await get_assistant(config).open_turn(message, session_id=session_id, user_id=user_id)
        except BaseException:
            if admission is not None:
                await admission.release()
            raise
        guarded = GuardedTurn.of(turn, backend, admission)
        async with aclosing(guarded.events(mode=mode, timeout_s=timeout_s)) as events:
            async for event in events:
                yield event

    return get_background_loop().iterate(start, heartbeat=heartbeat, burst_interval=settings.stream_update_interval_s)


def call_assistant(config: AssistantConfig, action: Callable[[Assistant], Awaitable[T]]) -> T:
    """Runs `action(assistant)` on the background loop, e.g. listing conversations."""

    async def run() -> T:
        return await action(get_assistant(config))

    return get_background_loop().run(run)
