"""Where quota state lives: this process (default) or Redis, shared by every worker.

Three primitives, each atomic: a token bucket (turns per minute), expiring slots (concurrent
turns, so a crashed worker's slots free themselves), and counters that expire (tokens per day).
Times are wall-clock seconds passed in by the caller, so tests inject a clock and workers on one
host agree on them.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.exceptions import RedisError

from streaming_core.errors import StreamingCoreError
from streaming_core.stores.redis_client import Commands, close_redis_client, redis_pipeliner


class QuotaStoreUnavailable(StreamingCoreError):
    """The quota store (Redis) cannot be reached: turns are refused, not let in unmetered."""


class QuotaStore(Protocol):
    async def take(self, key: str, capacity: float, per_second: float, now: float) -> float:
        """Takes one token from the bucket; returns 0, or the seconds until one is there."""

    async def acquire(self, key: str, slot: str, limit: int, now: float, expires: float) -> bool:
        """Holds `slot` until `expires` unless `limit` slots are held already."""

    async def release(self, key: str, slot: str) -> None: ...

    async def renew(self, key: str, slots: Collection[str], now: float, expires: float) -> None:
        """Moves the expiry of those of `slots` still held to `expires` (a holder that is alive)."""

    async def add(self, key: str, amount: int, now: float, ttl_s: int) -> int:
        """Adds to a counter that disappears `ttl_s` seconds after its last change; returns it."""

    async def get(self, key: str, now: float) -> int: ...

    async def aclose(self) -> None: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float
    capacity: float  # buckets of different limits share the store
    per_second: float

    def refilled(self, now: float) -> float:
        return min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.per_second)


@dataclass
class MemoryQuotaStore:
    """This process's state, shared by every event loop in it (the pages' and the API's)."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _slots: dict[str, dict[str, float]] = field(default_factory=dict)
    _counters: dict[str, tuple[int, float]] = field(default_factory=dict)  # value, expiry time

    async def take(self, key: str, capacity: float, per_second: float, now: float) -> float:
        with self._lock:
            bucket = self._buckets.get(key) or _Bucket(capacity, now, capacity, per_second)
            bucket.capacity, bucket.per_second = capacity, per_second
            bucket.tokens, bucket.updated = bucket.refilled(now), now
            self._buckets[key] = bucket
            if bucket.tokens < 1.0:
                return (1.0 - bucket.tokens) / per_second
            bucket.tokens -= 1.0
            if len(self._buckets) > 10_000:  # a refilled bucket is the same as none: bounds memory
                full = [k for k, b in self._buckets.items() if b.refilled(now) >= b.capacity]
                for stale in full:
                    del self._buckets[stale]
            return 0.0

    async def acquire(self, key: str, slot: str, limit: int, now: float, expires: float) -> bool:
        with self._lock:
            held = {s: until for s, until in self._slots.get(key, {}).items() if until > now}
            if len(held) >= limit:
                self._slots[key] = held
                return False
            held[slot] = expires
            self._slots[key] = held
            return True

    async def release(self, key: str, slot: str) -> None:
        with self._lock:
            held = self._slots.get(key, {})
            held.pop(slot, None)
            if not held:
                self._slots.pop(key, None)

    async def renew(self, key: str, slots: Collection[str], now: float, expires: float) -> None:
        with self._lock:
            held = self._slots.get(key, {})
            for slot in slots:
                if slot in held:
                    held[slot] = expires

    async def add(self, key: str, amount: int, now: float, ttl_s: int) -> int:
        with self._lock:
            value = self._live_counter(key, now)
            self._counters[key] = (value + amount, now + ttl_s)
            if len(self._counters) > 10_000:
                for stale in [k for k, (_, expires) in self._counters.items() if expires <= now]:
                    del self._counters[stale]
            return value + amount

    async def get(self, key: str, now: float) -> int:
        with self._lock:
            return self._live_counter(key, now)

    async def aclose(self) -> None:
        return None

    def _live_counter(self, key: str, now: float) -> int:
        value, expires = self._counters.get(key, (0, now + 1))
        return value if expires > now else 0


# Token bucket: tokens and last update in a hash; returns the wait as a string (Lua numbers
# become integers on the way out).
_TAKE = """
local b = redis.call('HMGET', KEYS[1], 't', 'u')
local cap, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(b[1]) or cap
local updated = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate else tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return tostring(wait)
"""
# Slots: a sorted set scored by expiry; expired members are dropped before counting.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""
# A counter and its expiry in one step (a script: atomic, and sent with other commands).
_ADD = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('EXPIRE', KEYS[1], ARGV[2]) return v"


class RedisQuotaStore:
    """State in Redis under `prefix`, every key with an expiry. One client per event loop:
    redis.asyncio connections belong to the loop that opened them. Each step is one command (or a
    script), sent with the other commands of its loop iteration: under load, the checks of many
    turns share a round trip."""

    def __init__(self, url: str, prefix: str = "adk:quota:") -> None:
        self.url = url
        self.prefix = prefix

    async def _send(self, commands: Commands) -> list[Any]:
        try:
            return await redis_pipeliner(self.url, decode_responses=True)(commands)
        except (RedisError, OSError) as error:
            raise QuotaStoreUnavailable(
                "The quota store (Redis, RUN_STORE_URL) is unreachable, so no new answers can start; "
                "try again in a few seconds."
            ) from error

    async def take(self, key: str, capacity: float, per_second: float, now: float) -> float:
        ttl_ms = int(capacity / per_second * 1000) + 1000  # refilled by then: the same as no key
        [wait] = await self._send(
            lambda pipe: pipe.eval(_TAKE, 1, self.prefix + key, capacity, per_second, now, ttl_ms)
        )
        return float(wait)

    async def acquire(self, key: str, slot: str, limit: int, now: float, expires: float) -> bool:
        ttl_ms = int((expires - now) * 1000) + 1000  # relative: Redis's clock need not be the caller's
        [taken] = await self._send(
            lambda pipe: pipe.eval(_ACQUIRE, 1, self.prefix + key, now, limit, slot, expires, ttl_ms)
        )
        return bool(taken)

    async def release(self, key: str, slot: str) -> None:
        await self._send(lambda pipe: pipe.zrem(self.prefix + key, slot))

    async def renew(self, key: str, slots: Collection[str], now: float, expires: float) -> None:
        ttl_ms = int((expires - now) * 1000) + 1000

        def commands(pipe: Any) -> None:
            pipe.zadd(self.prefix + key, dict.fromkeys(slots, expires), xx=True)  # a released slot stays released
            pipe.pexpire(self.prefix + key, ttl_ms)

        await self._send(commands)

    async def add(self, key: str, amount: int, now: float, ttl_s: int) -> int:
        [value] = await self._send(lambda pipe: pipe.eval(_ADD, 1, self.prefix + key, amount, ttl_s))
        return int(value)

    async def get(self, key: str, now: float) -> int:
        [value] = await self._send(lambda pipe: pipe.get(self.prefix + key))
        return int(value or 0)

    async def aclose(self) -> None:
        await close_redis_client(self.url, decode_responses=True)


def create_store(url: str | None) -> QuotaStore:
    return MemoryQuotaStore() if url is None else RedisQuotaStore(url)
