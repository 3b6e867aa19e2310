"""Visitor quotas and the daily Gemini budget, shared by the pages and the API of a process (and
by every process when RUN_STORE_URL names a Redis server)."""

from __future__ import annotations

import threading

from streaming_core.quotas.config import QuotaLimits, load_quota_limits
from streaming_core.quotas.guard import GuardedTurn
from streaming_core.quotas.limiter import Admission, Limit, QuotaExceeded, QuotaLimiter, estimate_tokens
from streaming_core.quotas.stores import (
    MemoryQuotaStore,
    QuotaStore,
    QuotaStoreUnavailable,
    RedisQuotaStore,
    create_store,
)

_lock = threading.Lock()
_limiter: QuotaLimiter | None = None


def get_limiter() -> QuotaLimiter:
    """This process's limiter, configured from the environment on first use."""
    global _limiter
    with _lock:
        if _limiter is None:
            limits = load_quota_limits()
            _limiter = QuotaLimiter(limits, create_store(limits.store_url))
        return _limiter


def install_limiter(limiter: QuotaLimiter | None) -> None:
    """Replaces this process's limiter (tests: tiny limits, a fake clock); None: from the environment again."""
    global _limiter
    with _lock:
        _limiter = limiter


async def admit_turn(visitor: str | None, backend: str) -> Admission | None:
    """The limiter's admission for `visitor` (a key such as "v:<cookie id>" or "a:<address>");
    None lets library callers without visitors through, still metered by GuardedTurn."""
    return None if visitor is None else await get_limiter().admit(visitor, backend)


__all__ = [
    "Admission",
    "GuardedTurn",
    "Limit",
    "MemoryQuotaStore",
    "QuotaExceeded",
    "QuotaLimiter",
    "QuotaLimits",
    "QuotaStore",
    "QuotaStoreUnavailable",
    "RedisQuotaStore",
    "admit_turn",
    "create_store",
    "estimate_tokens",
    "get_limiter",
    "install_limiter",
    "load_quota_limits",
]
