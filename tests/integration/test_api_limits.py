"""Per-client stream and rate limits (429 + Retry-After), the run cap, and API_* settings."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx
import pytest

from streaming_core.api.limits import STREAM_SLOT_TTL_S, ApiLimits, ClientLimiter, TooManyRequests, load_limits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.errors import ConfigurationError
from streaming_core.quotas import MemoryQuotaStore
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings
from streaming_core.testing.servers import ApiServer, eventually
from streaming_core.testing.sse import read_sse

SETTINGS = Settings(backend="scripted")
# One chunk, then silence: each stream stays open until its client leaves.
HANGS = AssistantConfig(
    backend="scripted", persistent=False, script=(ScriptedReply(text="abcdef", chunk_size=2, hang_after=1),)
)
QUICK = AssistantConfig(backend="scripted", persistent=False, script=(ScriptedReply(text="ok"),))


async def test_streams_over_the_per_client_limit_get_429_with_retry_after() -> None:
    limits = ApiLimits(max_streams_per_client=2, rate_per_minute=100, grace_s=0.1, ping_s=0)
    with ApiServer(HANGS, SETTINGS, limits) as server:
        url = f"{server.url}/chat/stream"
        limiter = server.app.state.api.limiter
        async with httpx.AsyncClient() as client:
            async with AsyncExitStack() as streams:
                for _ in range(2):
                    await streams.enter_async_context(client.stream("GET", url, params={"query": "hi"}))
                refused = await client.get(url, params={"query": "hi"})
            # Both hung up: the server notices and frees the slots.
            await eventually(lambda: server.call(lambda: limiter.open_streams("127.0.0.1")) == 0)
            async with client.stream("GET", url, params={"query": "hi"}) as again:
                accepted = again.status_code

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "too_many_requests" and "2 at once" in refused.json()["detail"]
    assert accepted == 200


async def test_requests_over_the_rate_get_429_with_retry_after() -> None:
    limits = ApiLimits(max_streams_per_client=10, rate_per_minute=3, ping_s=0)
    with ApiServer(QUICK, SETTINGS, limits) as server:
        url = f"{server.url}/chat/stream"
        async with httpx.AsyncClient() as client:
            answered = [await read_sse(client, "GET", url, params={"query": "hi"}) for _ in range(3)]
            refused = await client.get(url, params={"query": "hi"})
            bad = await client.get(url, params={"query": ""})

    assert [r.text for r in answered] == ["ok"] * 3
    assert refused.status_code == 429 and bad.status_code == 429  # bad input spends the budget too
    assert 1 <= int(refused.headers["retry-after"]) <= 20  # one request refills in 60/3 s
    assert "3 streams a minute" in refused.json()["detail"]


async def test_a_burst_from_one_client_is_capped_while_another_client_is_served() -> None:
    limits = ApiLimits(max_streams_per_client=100, rate_per_minute=5, ping_s=0)
    with ApiServer(QUICK, SETTINGS, limits) as server:
        url = f"{server.url}/chat/stream"
        async with httpx.AsyncClient() as client:
            burst = await asyncio.gather(*(client.get(url, params={"query": "hi"}) for _ in range(20)))
        # Another client: the limiter keys on the IP address, so present a different one.
        other = server.call_async(lambda: server.app.state.api.limiter.check_rate("203.0.113.9"))
        started = server.model().log.started

    assert sorted(r.status_code for r in burst) == [200] * 5 + [429] * 15
    assert other is None
    assert started == 5


async def test_the_run_cap_answers_503_with_retry_after() -> None:
    limits = ApiLimits(max_streams_per_client=10, rate_per_minute=100, max_runs=1, grace_s=30, ping_s=0)
    with ApiServer(HANGS, SETTINGS, limits) as server:
        async with httpx.AsyncClient() as client:
            await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "hi"}, limit=1)
            refused = await client.get(f"{server.url}/chat/stream", params={"query": "hi"})
            await eventually(lambda: server.model().log.started == 1)

    assert refused.status_code == 503 and refused.json()["error"] == "busy"
    assert refused.headers["retry-after"] == "30"


async def test_rate_limiter_refills_with_time() -> None:
    now = [0.0]
    limiter = ClientLimiter(ApiLimits(rate_per_minute=2), clock=lambda: now[0])
    await limiter.check_rate("a")
    await limiter.check_rate("a")

    with pytest.raises(TooManyRequests) as refused:
        await limiter.check_rate("a")
    now[0] = 30.0
    await limiter.check_rate("a")

    assert refused.value.retry_after == 30


async def test_stream_slots_are_released_exactly_once() -> None:
    limiter = ClientLimiter(ApiLimits(max_streams_per_client=1))
    close = await limiter.open_stream("a")

    close()
    close()

    assert limiter.open_streams("a") == 0
    await limiter.open_stream("a")
    with pytest.raises(TooManyRequests):
        await limiter.open_stream("a")


async def test_a_stream_slot_nobody_renews_expires() -> None:
    """The slots of a worker that died (it stopped renewing them) free themselves."""
    now = [0.0]
    store = MemoryQuotaStore()
    dead = ClientLimiter(ApiLimits(max_streams_per_client=1), clock=lambda: now[0], store=store)
    alive = ClientLimiter(ApiLimits(max_streams_per_client=1), clock=lambda: now[0], store=store)
    await dead.open_stream("a")

    with pytest.raises(TooManyRequests):
        await alive.open_stream("a")
    now[0] = STREAM_SLOT_TTL_S + 1
    await alive.open_stream("a")


async def test_a_renewed_stream_slot_keeps_counting() -> None:
    now = [0.0]
    limiter = ClientLimiter(ApiLimits(max_streams_per_client=1), clock=lambda: now[0])
    await limiter.open_stream("a")

    now[0] = STREAM_SLOT_TTL_S / 2
    await limiter.renew_streams()
    now[0] = STREAM_SLOT_TTL_S + 1

    with pytest.raises(TooManyRequests):
        await limiter.open_stream("a")


def test_load_limits_reads_api_variables() -> None:
    limits = load_limits(
        {
            "API_MAX_STREAMS_PER_CLIENT": "7",
            "API_RATE_PER_MINUTE": "90",
            "API_GRACE_SECONDS": "2.5",
            "API_CORS_ORIGINS": "https://a.example,https://b.example",
        }
    )

    assert (limits.max_streams_per_client, limits.rate_per_minute, limits.grace_s) == (7, 90, 2.5)
    assert limits.cors_origins == ("https://a.example", "https://b.example")
    assert load_limits({}) == ApiLimits()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("API_RATE_PER_MINUTE", "lots", "not a number"),
        ("API_MAX_STREAMS_PER_CLIENT", "0", "out of range"),
        ("API_GRACE_SECONDS", "-1", "out of range"),
        ("API_GRACE_SECONDS", "nan", "out of range"),
        ("API_GRACE_SECONDS", "inf", "out of range"),
    ],
)
def test_load_limits_rejects_invalid_values_with_the_variable_name(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}.*{message}"):
        load_limits({name: value})
