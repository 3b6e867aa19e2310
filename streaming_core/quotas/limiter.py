"""Admission of a turn: the demo's daily Gemini budget, then the visitor's tokens today, concurrent
turns and turns per minute. One limiter serves the pages and the API of a process."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NoReturn, TypeAlias

from streaming_core import telemetry
from streaming_core.errors import StreamingCoreError
from streaming_core.quotas.config import QuotaLimits
from streaming_core.quotas.stores import QuotaStore

Limit: TypeAlias = Literal["turns_per_minute", "concurrent_turns", "tokens_per_day", "daily_budget"]
WallClock: TypeAlias = Callable[[], float]

DAY_S = 86_400
PAID_BACKENDS = frozenset({"gemini"})  # the daily budget's scope: the backend the owner pays for
# A slot outlives its turn only if the process died mid-turn; turns end by their timeout (120 s by default).
SLOT_TTL_S = 300.0
CHARS_PER_TOKEN = 4  # the usual estimate for English text, for backends that report no usage


class QuotaExceeded(StreamingCoreError):
    """A visitor (or the whole demo) is over a limit; the message says how long to wait."""

    def __init__(self, message: str, limit: Limit, retry_after: int) -> None:
        super().__init__(message, limit, retry_after)
        self.message = message
        self.limit: Limit = limit
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


def estimate_tokens(*texts: str, extra_chars: int = 0) -> int:
    """Tokens of `texts` plus `extra_chars` more characters, by the characters-per-token rule."""
    return max(1, math.ceil((sum(len(text) for text in texts) + extra_chars) / CHARS_PER_TOKEN))


def seconds_to_midnight(now: float) -> int:
    return max(1, math.ceil(DAY_S - now % DAY_S))


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


@dataclass
class Admission:
    """A turn let in: it holds a concurrent-turn slot until `release`, and `spend` counts its tokens."""

    limiter: QuotaLimiter
    visitor: str
    backend: str
    slot: str
    released: bool = False

    async def spend(self, tokens: int) -> None:
        await self.limiter.spend(self.visitor, self.backend, tokens)

    async def release(self) -> None:
        if not self.released:
            self.released = True
            await self.limiter.store.release(f"slots:{self.visitor}", self.slot)


@dataclass
class QuotaLimiter:
    limits: QuotaLimits
    store: QuotaStore
    clock: WallClock = time.time

    async def admit(self, visitor: str, backend: str) -> Admission:
        """Lets a turn in or raises QuotaExceeded. `visitor` must never be something a person typed
        into a message: it is a cookie id or an address."""
        limits, now = self.limits, self.clock()
        if backend in PAID_BACKENDS and await self.budget_left(now) <= 0:
            self._refuse(
                "The demo's Gemini budget for today is spent. Switch the backend to the local model or the "
                "scripted model in the sidebar (or leave it at auto with no key); Gemini is back after "
                "midnight UTC.",
                "daily_budget",
                seconds_to_midnight(now),
            )
        if await self.store.get(f"tokens:{utc_day(now)}:{visitor}", now) >= limits.tokens_per_day:
            self._refuse(
                f"You have used today's {limits.tokens_per_day:,} model tokens. "
                f"Try again after midnight UTC, in {_duration(seconds_to_midnight(now))}.",
                "tokens_per_day",
                seconds_to_midnight(now),
            )
        slot = secrets.token_hex(8)
        if not await self.store.acquire(f"slots:{visitor}", slot, limits.concurrent_turns, now, now + SLOT_TTL_S):
            self._refuse(
                f"You already have {limits.concurrent_turns} answer(s) streaming; "
                "wait for one to finish (a few seconds) and try again.",
                "concurrent_turns",
                2,
            )
        wait = await self.store.take(f"rate:{visitor}", limits.turns_per_minute, limits.turns_per_minute / 60, now)
        if wait > 0:
            await self.store.release(f"slots:{visitor}", slot)
            seconds = max(1, math.ceil(wait))
            self._refuse(
                f"You have sent {limits.turns_per_minute} messages in the last minute, the most this demo takes. "
                f"Try again in {_duration(seconds)}.",
                "turns_per_minute",
                seconds,
            )
        return Admission(self, visitor, backend, slot)

    async def spend(self, visitor: str, backend: str, tokens: int) -> None:
        now = self.clock()
        day = utc_day(now)
        await self.store.add(f"tokens:{day}:{visitor}", tokens, now, 2 * DAY_S)
        if backend in PAID_BACKENDS:
            await self.store.add(f"budget:{day}", tokens, now, 2 * DAY_S)

    async def spent_today(self, now: float | None = None) -> int:
        """Gemini tokens spent by every visitor today (UTC)."""
        now = self.clock() if now is None else now
        return await self.store.get(f"budget:{utc_day(now)}", now)

    async def budget_left(self, now: float | None = None) -> int:
        return max(0, self.limits.gemini_daily_budget - await self.spent_today(now))

    def _refuse(self, message: str, limit: Limit, retry_after: int) -> NoReturn:
        telemetry.QUOTA_REFUSALS.labels(limit).inc()
        raise QuotaExceeded(message, limit, retry_after)


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
