"""The visitor limiter over both state stores: this process's memory and a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from unittest.mock import ANY

import pytest

from streaming_core import telemetry
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.errors import ConfigurationError
from streaming_core.events import Done
from streaming_core.quotas import (
    MemoryQuotaStore,
    QuotaExceeded,
    QuotaLimiter,
    QuotaLimits,
    QuotaStoreUnavailable,
    RedisQuotaStore,
)
from streaming_core.quotas.config import load_quota_limits
from streaming_core.quotas.guard import GuardedTurn
from streaming_core.quotas.limiter import estimate_tokens
from streaming_core.quotas.stores import QuotaStore
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.settings import load_settings
from streaming_core.stores.redis_client import redis_client
from streaming_core.testing.datastores import RedisServer, free_port

DAY = 86_400.0
NOON = 20_000 * DAY + DAY / 2  # a UTC noon, far from midnight


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[QuotaStore]:
    if request.param == "memory":
        yield MemoryQuotaStore()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis_store = RedisQuotaStore(server.url, prefix=f"test:{request.node.name}:")
    yield redis_store
    await redis_store.aclose()


def limiter(store: QuotaStore, clock: Clock, **limits: int) -> QuotaLimiter:
    return QuotaLimiter(QuotaLimits(**limits), store, clock=clock)


async def test_turns_over_the_rate_are_refused_with_the_wait_until_the_next_one(store: QuotaStore) -> None:
    clock = Clock()
    quotas = limiter(store, clock, turns_per_minute=2)
    for _ in range(2):
        await (await quotas.admit("v:a", "scripted")).release()

    with pytest.raises(QuotaExceeded) as refused:
        await quotas.admit("v:a", "scripted")
    other = await quotas.admit("v:b", "scripted")  # another visitor is not affected
    clock.now += 30  # one turn refills in 60 / 2 s
    again = await quotas.admit("v:a", "scripted")

    assert refused.value.limit == "turns_per_minute" and refused.value.retry_after == 30
    assert "Try again in 30 s" in str(refused.value)
    assert other.visitor == "v:b" and again.visitor == "v:a"


async def test_concurrent_turns_are_capped_until_one_is_released(store: QuotaStore) -> None:
    quotas = limiter(store, Clock(), concurrent_turns=2)
    first = await quotas.admit("v:a", "scripted")
    await quotas.admit("v:a", "scripted")

    with pytest.raises(QuotaExceeded) as refused:
        await quotas.admit("v:a", "scripted")
    await first.release()
    await first.release()  # idempotent: a second release frees nothing more
    third = await quotas.admit("v:a", "scripted")

    assert refused.value.limit == "concurrent_turns" and "2 answer(s) streaming" in str(refused.value)
    assert third.visitor == "v:a"
    with pytest.raises(QuotaExceeded):
        await quotas.admit("v:a", "scripted")


async def test_a_slot_of_a_turn_that_never_ended_expires(store: QuotaStore) -> None:
    clock = Clock()
    quotas = limiter(store, clock, concurrent_turns=1)
    await quotas.admit("v:a", "scripted")  # its process died: never released

    clock.now += 301
    admitted = await quotas.admit("v:a", "scripted")

    assert admitted.visitor == "v:a"


async def test_a_renewed_slot_outlives_its_first_expiry_and_a_released_one_stays_free(store: QuotaStore) -> None:
    assert await store.acquire("k", "kept", 2, NOON, NOON + 10)
    assert await store.acquire("k", "gone", 2, NOON, NOON + 10)
    await store.release("k", "gone")

    await store.renew("k", {"kept", "gone"}, NOON + 5, NOON + 100)

    assert await store.acquire("k", "third", 2, NOON + 50, NOON + 60)  # "gone" did not come back
    assert not await store.acquire("k", "fourth", 2, NOON + 50, NOON + 60)  # "kept" still counts


async def test_tokens_per_day_refuse_until_midnight_utc(store: QuotaStore) -> None:
    clock = Clock()
    quotas = limiter(store, clock, tokens_per_day=100)
    turn = await quotas.admit("v:a", "local")
    await turn.spend(60)
    await turn.release()
    turn = await quotas.admit("v:a", "local")
    await turn.spend(60)
    await turn.release()

    with pytest.raises(QuotaExceeded) as refused:
        await quotas.admit("v:a", "local")
    clock.now += DAY / 2  # midnight UTC
    tomorrow = await quotas.admit("v:a", "local")

    assert refused.value.limit == "tokens_per_day" and refused.value.retry_after == DAY / 2
    assert tomorrow.visitor == "v:a"


async def test_the_daily_budget_refuses_gemini_only_and_offers_another_backend(store: QuotaStore) -> None:
    clock = Clock()
    quotas = limiter(store, clock, gemini_daily_budget=1000)
    turn = await quotas.admit("v:a", "gemini")
    await turn.spend(1000)
    await turn.release()

    with pytest.raises(QuotaExceeded) as refused:
        await quotas.admit("v:b", "gemini")  # everyone's budget, not one visitor's
    scripted = await quotas.admit("v:b", "scripted")
    left_today = await quotas.budget_left()
    clock.now += DAY / 2
    left_tomorrow = await quotas.budget_left()

    assert refused.value.limit == "daily_budget"
    assert "local model or the scripted model" in str(refused.value)
    assert scripted.backend == "scripted"
    assert (left_today, left_tomorrow) == (0, 1000)


async def test_one_rate_is_shared_by_concurrent_admissions(store: QuotaStore) -> None:
    quotas = limiter(store, Clock(), turns_per_minute=5, concurrent_turns=100)

    results = await asyncio.gather(*(quotas.admit("v:a", "scripted") for _ in range(20)), return_exceptions=True)

    assert sum(not isinstance(result, BaseException) for result in results) == 5


def test_redis_keys_expire(redis_server: RedisServer) -> None:
    async def scenario() -> list[int]:
        store = RedisQuotaStore(redis_server.url, prefix="expiry:")
        quotas = limiter(store, Clock())
        turn = await quotas.admit("v:a", "gemini")
        await turn.spend(5)
        client = redis_client(redis_server.url, decode_responses=True)
        ttls = [await client.ttl(key) async for key in client.scan_iter("expiry:*")]
        await store.aclose()
        return ttls

    ttls = asyncio.run(scenario())

    assert len(ttls) == 4 and all(ttl > 0 for ttl in ttls)  # rate, slots, visitor tokens, budget


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QUOTA_TURNS_PER_MINUTE", "0"),
        ("QUOTA_TURNS_PER_MINUTE", "many"),
        ("QUOTA_CONCURRENT_TURNS", "-1"),
        ("QUOTA_CONCURRENT_TURNS", "2.5"),
        ("QUOTA_TOKENS_PER_DAY", "0"),
        ("QUOTA_TOKENS_PER_DAY", "1e9"),
        ("GEMINI_DAILY_TOKEN_BUDGET", "nan"),
        ("GEMINI_DAILY_TOKEN_BUDGET", "0"),
        ("RUN_STORE_URL", "localhost:6379"),
    ],
)
def test_bad_quota_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        load_quota_limits({name: value})


def test_quota_settings_read_redis_from_the_run_store_url() -> None:
    limits = load_quota_limits({"QUOTA_TURNS_PER_MINUTE": "7", "RUN_STORE_URL": "redis://127.0.0.1:1/0"})
    in_memory = load_quota_limits({"RUN_STORE_URL": "memory://"})

    assert limits.turns_per_minute == 7 and limits.store_url == "redis://127.0.0.1:1/0"
    assert in_memory.store_url is None


def test_an_unreachable_redis_refuses_turns_with_a_clear_error() -> None:
    async def scenario() -> None:
        store = RedisQuotaStore(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
        try:
            await limiter(store, Clock()).admit("v:a", "scripted")
        finally:
            await store.aclose()

    with pytest.raises(QuotaStoreUnavailable, match="RUN_STORE_URL"):
        asyncio.run(scenario())


async def test_a_turn_is_charged_the_usage_its_model_reported_as_it_streamed() -> None:
    # The scripted model reports one token per word of the request and per chunk: 1 + 3 here,
    # where the estimate from the text would differ.
    config = AssistantConfig(backend="scripted", persistent=False, script=(ScriptedReply(text="abcdef", chunk_size=2),))
    turn = GuardedTurn.of(await build_assistant(config, load_settings()).open_turn("go"), "scripted", None)

    def charged() -> float:
        return telemetry.REGISTRY.get_sample_value("adk_model_tokens_total", {"backend": "scripted"}) or 0.0

    before = charged()
    assert [event async for event in turn.events()][-1] == Done("completed", "abcdef", ANY, turn.session_id, True)
    assert turn.reported_tokens == 4 != estimate_tokens("go", "abcdef")
    assert charged() - before == 4
