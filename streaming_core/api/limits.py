"""The API's knobs (API_* variables) and per-client admission: concurrent streams and request rate.

A client is its IP address as uvicorn reports it (behind a trusted proxy, run uvicorn with
--proxy-headers so that is the visitor's address); the user id is not used, because a client
could pick a new one for every request. The request rate and the open streams live in the quota
store (Redis when RUN_STORE_URL names one, so all workers share them); an open stream is a slot
that its worker keeps renewing, so the streams of a worker that died stop counting by themselves.
The visitor quotas on turns and tokens, shared with the pages, are streaming_core.quotas.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import Request

from streaming_core.api.requests import client_key
from streaming_core.errors import ConfigurationError, StreamingCoreError
from streaming_core.metrics import Clock
from streaming_core.quotas.stores import MemoryQuotaStore, QuotaStore, QuotaStoreUnavailable
from streaming_core.settings import env_number
from streaming_core.visitors import VISITOR_COOKIE, is_valid_user_id

logger = logging.getLogger(__name__)

LOCALHOST_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"
STREAM_SLOT_TTL_S = 30.0  # a dead worker's streams stop counting within this
RENEW_EVERY_S = STREAM_SLOT_TTL_S / 3


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
    """The request rate and the open streams per client address, kept in a quota store (shared by
    every worker when it is Redis). `keep_alive` must run while streams are open: it renews them."""

    limits: ApiLimits
    clock: Clock = time.time  # wall clock: workers sharing Redis must agree on it
    store: QuotaStore = field(default_factory=MemoryQuotaStore)
    _held: dict[str, set[str]] = field(default_factory=dict)  # client -> this process's open stream slots
    _releasing: dict[str, set[asyncio.Task[None]]] = field(default_factory=dict)

    async def check_rate(self, client: str) -> None:
        """Spends one request from the client's bucket, or raises TooManyRequests."""
        capacity = float(self.limits.rate_per_minute)
        wait = await self.store.take(f"api-rate:{client}", capacity, capacity / 60.0, self.clock())
        if wait > 0:
            raise TooManyRequests(
                f"Too many requests: the limit is {self.limits.rate_per_minute} streams a minute.", math.ceil(wait)
            )

    async def open_stream(self, client: str) -> Callable[[], None]:
        """Counts an open stream (in every worker); returns the (idempotent) function that closes it."""
        # A slot this process just freed is free before it counts again (a client that reconnects).
        await asyncio.gather(*self._releasing.get(client, ()))
        slot, now = secrets.token_hex(8), self.clock()
        limit = self.limits.max_streams_per_client
        if not await self.store.acquire(_streams_key(client), slot, limit, now, now + STREAM_SLOT_TTL_S):
            raise TooManyRequests(
                f"Too many open streams: the limit is {limit} at once; close one (or let it finish) and try again.",
                retry_after=2,
            )
        held = self._held.setdefault(client, set())
        held.add(slot)

        def close() -> None:
            if slot not in held:
                return
            held.discard(slot)
            if not held and self._held.get(client) is held:
                del self._held[client]
            # A task of its own: this runs in `finally` blocks that may already be cancelled.
            task = asyncio.get_running_loop().create_task(self._release(client, slot))
            releasing = self._releasing.setdefault(client, set())
            releasing.add(task)
            task.add_done_callback(lambda done: self._released(client, done))

        return close

    async def _release(self, client: str, slot: str) -> None:
        try:
            await self.store.release(_streams_key(client), slot)
        except QuotaStoreUnavailable:
            logger.warning("could not free a stream slot of %s: the quota store is unreachable; it expires", client)

    def _released(self, client: str, task: asyncio.Task[None]) -> None:
        releasing = self._releasing.get(client, set())
        releasing.discard(task)
        if not releasing:
            self._releasing.pop(client, None)

    def open_streams(self, client: str) -> int:
        """This process's open streams of `client`."""
        return len(self._held.get(client, ()))

    async def keep_alive(self) -> None:
        """Renews this process's open stream slots until cancelled (on shutdown)."""
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            await self.renew_streams()

    async def renew_streams(self) -> None:
        now = self.clock()
        for client, slots in list(self._held.items()):
            try:
                await self.store.renew(_streams_key(client), set(slots), now, now + STREAM_SLOT_TTL_S)
            except QuotaStoreUnavailable:
                logger.warning("could not renew the stream slots of %s: the quota store is unreachable", client)


def _streams_key(client: str) -> str:
    return f"api-streams:{client}"
