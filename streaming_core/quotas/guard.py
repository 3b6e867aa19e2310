"""A turn under watch: counted in the metrics, its tokens charged to the visitor (and to the daily
Gemini budget), its concurrent-turn slot freed however it ends. Pages and API both stream through it."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from google.adk.agents.run_config import StreamingMode

from streaming_core import telemetry
from streaming_core.assistant import Turn
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
        backend = self.backend
        telemetry.TURNS_STARTED.labels(backend).inc()
        telemetry.ACTIVE_STREAMS.inc()
        queued = False
        streamed_chars = 0  # all the estimate needs: no second copy of the answer
        done: Done | None = None
        error_code = ""
        try:
            async with aclosing(super().events(mode=mode, timeout_s=timeout_s)) as events:
                async for event in events:
                    if isinstance(event, Queued) and not queued and not streamed_chars:
                        queued = True
                        telemetry.QUEUED_TURNS.inc()
                    elif isinstance(event, TextDelta):
                        if queued and not streamed_chars:
                            telemetry.QUEUED_TURNS.dec()
                        streamed_chars += len(event.text)
                    elif isinstance(event, StreamError):
                        error_code = error_code or event.code
                    elif isinstance(event, Done):
                        done = event
                    yield event
        finally:
            if queued and not streamed_chars:
                telemetry.QUEUED_TURNS.dec()
            telemetry.ACTIVE_STREAMS.dec()
            self._record(done, error_code)
            await self._settle(streamed_chars)

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

    async def _settle(self, streamed_chars: int) -> None:
        # The usage the model reported in the final events of this turn, as they streamed past (no
        # read of the session afterwards: one round trip less per turn on a database).
        tokens = self.reported_tokens or estimate_tokens(self.message, extra_chars=streamed_chars)
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
