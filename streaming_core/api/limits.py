"""The API's knobs (API_* variables) and per-client admission: concurrent streams and request rate.

A client is its IP address as uvicorn reports it (behind a trusted proxy, run uvicorn with
--proxy-headers so that is the visitor's address); the user id is not used, because a client
could pick a new one for every request. The request rate lives in the quota store (Redis when
RUN_STORE_URL names one, so all workers share it); open streams are this process's connections.
The visitor quotas on turns and tokens, shared with the pages, are streaming_core.quotas.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import Request

from streaming_core.api.requests import client_key
from streaming_core.errors import ConfigurationError, StreamingCoreError
from streaming_core.metrics import Clock
from streaming_core.quotas.stores import MemoryQuotaStore, QuotaStore
from streaming_core.settings import env_number
from streaming_core.visitors import VISITOR_COOKIE, is_valid_user_id

LOCALHOST_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """Every API setting. Durations are seconds."""

    max_streams_per_client: int = 4  # API_MAX_STREAMS_PER_CLIENT: open SSE connections per IP
    rate_per_minute: int = 30  # API_RATE_PER_MINUTE: stream requests per IP, bursts up to this
    grace_s: float = 30.0  # API_GRACE_SECONDS: a run outlives its last client this long
    buffer_events: int = 4096  # API_BUFFER_EVENTS: events a run keeps for resumption
    max_runs: int = 1000  # API_MAX_RUNS: runs kept at once, across clients
    turn_timeout_s: float = 120.0  # API_TURN_TIMEOUT_SECONDS: one answer's time limit
    ping_s: float = 15.0  # API_PING_SECONDS: keep-alive comments through idle proxies
    send_timeout_s: float = 30.0  # API_SEND_TIMEOUT_SECONDS: a stuck client is dropped
    retry_ms: int = 1000  # API_RETRY_MS: EventSource's reconnection delay
    cors_origins: tuple[str, ...] = ()  # API_CORS_ORIGINS, comma-separated; empty: localhost
    metrics_token: str | None = None  # METRICS_TOKEN: bearer token for /metrics; unset: loopback only


def load_limits(env: Mapping[str, str] | None = None) -> ApiLimits:
    env = os.environ if env is None else env
    d = ApiLimits()
    origins = tuple(o.strip() for o in env.get("API_CORS_ORIGINS", "").split(",") if o.strip())
    return ApiLimits(
        max_streams_per_client=env_number(env, "API_MAX_STREAMS_PER_CLIENT", d.max_streams_per_client, int, 1),
        rate_per_minute=env_number(env, "API_RATE_PER_MINUTE", d.rate_per_minute, int, 1),
        grace_s=env_number(env, "API_GRACE_SECONDS", d.grace_s, float, 0.0),
        buffer_events=env_number(env, "API_BUFFER_EVENTS", d.buffer_events, int, 16),
        max_runs=env_number(env, "API_MAX_RUNS", d.max_runs, int, 1),
        turn_timeout_s=env_number(env, "API_TURN_TIMEOUT_SECONDS", d.turn_timeout_s, float, 1.0),
        ping_s=env_number(env, "API_PING_SECONDS", d.ping_s, float, 0.0),
        send_timeout_s=env_number(env, "API_SEND_TIMEOUT_SECONDS", d.send_timeout_s, float, 1.0),
        retry_ms=env_number(env, "API_RETRY_MS", d.retry_ms, int, 0),
        cors_origins=origins,
        metrics_token=_metrics_token(env.get("METRICS_TOKEN", "")),
    )


def _metrics_token(raw: str) -> str | None:
    if not raw:
        return None
    if len(raw) < 16 or not raw.isascii() or any(c.isspace() for c in raw):
        raise ConfigurationError(
            "METRICS_TOKEN must be at least 16 printable ASCII characters without spaces, "
            "e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )
    return raw


def visitor_key(request: Request) -> str:
    """Whom the quotas charge: the visitor cookie the pages use too, else the client address
    (X-User-Id is not used: a script could send a new one with every request)."""
    cookie = request.cookies.get(VISITOR_COOKIE, "")
    return f"v:{cookie}" if is_valid_user_id(cookie) else f"a:{client_key(request)}"


class TooManyRequests(StreamingCoreError):
    """A client is over its stream or rate limit; answered with 429 and Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class ClientLimiter:
    """The request rate per client address, kept in a quota store (shared by every worker when it
    is Redis), and this process's open streams per client (a connection lives in one process)."""

    limits: ApiLimits
    clock: Clock = time.time  # wall clock: workers sharing Redis must agree on it
    store: QuotaStore = field(default_factory=MemoryQuotaStore)
    _streams: dict[str, int] = field(default_factory=dict)

    async def check_rate(self, client: str) -> None:
        """Spends one request from the client's bucket, or raises TooManyRequests."""
        capacity = float(self.limits.rate_per_minute)
        wait = await self.store.take(f"api-rate:{client}", capacity, capacity / 60.0, self.clock())
        if wait > 0:
            raise TooManyRequests(
                f"Too many requests: the limit is {self.limits.rate_per_minute} streams a minute.", math.ceil(wait)
            )

    def open_stream(self, client: str) -> Callable[[], None]:
        """Counts an open stream; returns the (idempotent) function that closes it."""
        open_now = self._streams.get(client, 0)
        if open_now >= self.limits.max_streams_per_client:
            raise TooManyRequests(
                f"Too many open streams: the limit is {self.limits.max_streams_per_client} at once; "
                "close one (or let it finish) and try again.",
                retry_after=2,
            )
        self._streams[client] = open_now + 1
        closed = False

        def close() -> None:
            nonlocal closed
            if closed:
                return
            closed = True
            remaining = self._streams[client] - 1
            if remaining:
                self._streams[client] = remaining
            else:
                del self._streams[client]

        return close

    def open_streams(self, client: str) -> int:
        return self._streams.get(client, 0)
