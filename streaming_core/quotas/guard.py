"""A turn under watch: counted in the metrics, its tokens charged to the visitor (and to the daily
Gemini budget), its concurrent-turn slot freed however it ends. Pages and API both stream through it."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from google.adk.agents.run_config import StreamingMode
from google.adk.sessions.base_session_service import GetSessionConfig

from streaming_core import telemetry
from streaming_core.assistant import Turn
from streaming_core.errors import StreamingCoreError
from streaming_core.events import Done, Queued, StreamError, StreamEvent, TextDelta
from streaming_core.quotas.limiter import Admission, estimate_tokens
from streaming_core.quotas.stores import QuotaStoreUnavailable

logger = logging.getLogger(__name__)


@dataclass
class GuardedTurn(Turn):
    """A Turn whose events are metered; `admission` is None for callers without quotas."""

    backend: str = "scripted"
    admission: Admission | None = None

    @classmethod
    def of(cls, turn: Turn, backend: str, admission: Admission | None) -> GuardedTurn:
        return cls(turn.assistant, turn.session, turn.message, backend, admission)

    async def events(
        self, *, mode: StreamingMode | str = StreamingMode.SSE, timeout_s: float | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        backend, started = self.backend, time.time()
        telemetry.TURNS_STARTED.labels(backend).inc()
        telemetry.ACTIVE_STREAMS.inc()
        queued = False
        streamed: list[str] = []
        done: Done | None = None
        error_code = ""
        try:
            async with aclosing(super().events(mode=mode, timeout_s=timeout_s)) as events:
                async for event in events:
                    if isinstance(event, Queued) and not queued and not streamed:
                        queued = True
                        telemetry.QUEUED_TURNS.inc()
                    elif isinstance(event, TextDelta):
                        if queued and not streamed:
                            telemetry.QUEUED_TURNS.dec()
                        streamed.append(event.text)
                    elif isinstance(event, StreamError):
                        error_code = error_code or event.code
                    elif isinstance(event, Done):
                        done = event
                    yield event
        finally:
            if queued and not streamed:
                telemetry.QUEUED_TURNS.dec()
            telemetry.ACTIVE_STREAMS.dec()
            self._record(done, error_code)
            # A stopped turn saved no final event, so no reported usage: skip the read, Stop stays quick.
            await self._settle("".join(streamed), started if done is not None else None)

    def _record(self, done: Done | None, error_code: str) -> None:
        backend = self.backend
        if done is None:  # closed before the end: Stop, a client that left, a cancelled run
            telemetry.TURNS_FINISHED.labels(backend, "stopped", "").inc()
            return
        outcome = "error" if done.status == "error" else done.status
        telemetry.TURNS_FINISHED.labels(backend, outcome, error_code if outcome == "error" else "").inc()
        if done.metrics.time_to_first_chunk is not None:
            telemetry.TIME_TO_FIRST_CHUNK.labels(backend).observe(done.metrics.time_to_first_chunk)
        telemetry.TURN_TIME.labels(backend).observe(done.metrics.total_time)

    async def _settle(self, text: str, started: float | None) -> None:
        reported = 0 if started is None else await self._reported_tokens(started)
        tokens = reported or estimate_tokens(self.message, text)
        telemetry.TOKENS.labels(self.backend).inc(tokens)
        if self.admission is None:
            return
        try:
            await self.admission.spend(tokens)
            await self.admission.release()
        except QuotaStoreUnavailable:  # the answer was given; its slot expires by itself
            logger.warning(
                "could not charge %d tokens of a %s turn: the quota store is unreachable", tokens, self.backend
            )

    async def _reported_tokens(self, started: float) -> int:
        """The usage the model reported for this turn, from the events ADK saved in the session
        since the turn started (only those are read: a long conversation costs no more)."""
        assistant = self.assistant
        try:
            session = await assistant.session_service.get_session(
                app_name=self.session.app_name,
                user_id=self.session.user_id,
                session_id=self.session.id,
                config=GetSessionConfig(after_timestamp=started),
            )
        except StreamingCoreError:
            logger.warning("could not read the usage of a turn in session %s; estimating it", self.session.id)
            return 0
        if session is None:
            return 0
        usage = (event.usage_metadata for event in session.events if event.author == assistant.agent.name)
        return sum(u.total_token_count or 0 for u in usage if u is not None)
