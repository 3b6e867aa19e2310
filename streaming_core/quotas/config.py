"""The quota settings (QUOTA_* and GEMINI_DAILY_TOKEN_BUDGET) and where their state lives (RUN_STORE_URL)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from streaming_core.errors import ConfigurationError
from streaming_core.settings import env_number

STORE_VARIABLE = "RUN_STORE_URL"  # the scale-out run store's Redis: quotas share it when it is set
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """Per visitor (a browser's visitor cookie, else the client address) and for the whole demo.

    The defaults let a person click through every page and chat for a while; a script with one
    identity gets 20 turns a minute and a day's tokens, and the daily budget bounds everyone together.
    """

    turns_per_minute: int = 20  # QUOTA_TURNS_PER_MINUTE: new turns, bursts up to this many
    concurrent_turns: int = 3  # QUOTA_CONCURRENT_TURNS: answers streaming at once
    tokens_per_day: int = 200_000  # QUOTA_TOKENS_PER_DAY: model tokens (prompt + answer), UTC day
    gemini_daily_budget: int = 2_000_000  # GEMINI_DAILY_TOKEN_BUDGET: all visitors' Gemini tokens a UTC day
    store_url: str | None = None  # RUN_STORE_URL when it names Redis; None keeps the state in this process


def load_quota_limits(env: Mapping[str, str] | None = None) -> QuotaLimits:
    env = os.environ if env is None else env
    d = QuotaLimits()
    return QuotaLimits(
        turns_per_minute=env_number(env, "QUOTA_TURNS_PER_MINUTE", d.turns_per_minute, int, 1, 10_000),
        concurrent_turns=env_number(env, "QUOTA_CONCURRENT_TURNS", d.concurrent_turns, int, 1, 1000),
        tokens_per_day=env_number(env, "QUOTA_TOKENS_PER_DAY", d.tokens_per_day, int, 1),
        gemini_daily_budget=env_number(env, "GEMINI_DAILY_TOKEN_BUDGET", d.gemini_daily_budget, int, 1),
        store_url=_redis_url(env.get(STORE_VARIABLE, "").strip()),
    )


def _redis_url(raw: str) -> str | None:
    if not raw or raw.startswith("memory:"):
        return None
    if raw.startswith(_REDIS_SCHEMES):
        return raw
    if "://" not in raw:
        raise ConfigurationError(
            f"{STORE_VARIABLE}={raw!r} is not a URL; use redis://host:6379/0, or leave it unset (state in memory)."
        )
    return None  # another store (the run store's business); quotas stay in this process
