"""Visitor quotas on the API: 429 with Retry-After, one limiter with the pages, one across two
workers sharing Redis, and the daily Gemini budget spent on the fake Gemini."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse

from streaming_core.api.limits import ApiLimits
from streaming_core.backends import GEMINI_KEY_VARIABLES
from streaming_core.events import TextDelta
from streaming_core.quotas import MemoryQuotaStore, QuotaExceeded, QuotaLimiter, QuotaLimits, install_limiter
from streaming_core.quotas.limiter import utc_day
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings, load_settings
from streaming_core.sync_api import stream_turn_sync
from streaming_core.testing.datastores import RedisServer
from streaming_core.testing.fake_gemini import FakeGeminiServer, Scenario
from streaming_core.testing.processes import ServerProcess
from streaming_core.testing.servers import ApiServer
from streaming_core.testing.sse import read_sse

SCRIPTED = AssistantConfig(backend="scripted", persistent=False)
LIMITS = ApiLimits(ping_s=0, grace_s=0.3)
COOKIE = {"adk_user": "visitor-one"}


def tight(**limits: int) -> QuotaLimiter:
    limiter = QuotaLimiter(QuotaLimits(**limits), MemoryQuotaStore())
    install_limiter(limiter)
    return limiter


async def test_a_visitor_over_the_rate_gets_429_with_retry_after_and_another_visitor_is_served() -> None:
    tight(turns_per_minute=2)
    with ApiServer(SCRIPTED, Settings(backend="scripted"), LIMITS) as server:
        url = f"{server.url}/chat/stream"
        async with httpx.AsyncClient(cookies=COOKIE) as client:
            answered = [await read_sse(client, "GET", url, params={"query": "hi"}) for _ in range(2)]
            refused = await client.get(url, params={"query": "hi"})
        async with httpx.AsyncClient(cookies={"adk_user": "visitor-two"}) as other:
            served = await read_sse(other, "GET", url, params={"query": "hi"})

    assert [reply.named("done")[0]["status"] for reply in answered] == ["completed"] * 2
    assert refused.status_code == 429 and refused.json()["limit"] == "turns_per_minute"
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert "Try again in" in refused.json()["detail"]
    assert served.named("done")[0]["status"] == "completed"


async def test_pages_and_api_share_one_limiter() -> None:
    tight(turns_per_minute=1)
    with ApiServer(SCRIPTED, Settings(backend="scripted"), LIMITS) as server:
        async with httpx.AsyncClient(cookies=COOKIE) as client:
            await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "from the API"})

    with pytest.raises(QuotaExceeded) as refused:  # the same visitor's next turn, from a page
        list(stream_turn_sync("from a page", SCRIPTED, visitor="v:visitor-one"))

    assert refused.value.limit == "turns_per_minute"


async def test_a_turn_that_ends_frees_its_concurrent_slot_and_charges_its_tokens() -> None:
    limiter = tight(concurrent_turns=1, tokens_per_day=10**9)
    with ApiServer(SCRIPTED, Settings(backend="scripted"), LIMITS) as server:
        async with httpx.AsyncClient(cookies=COOKIE) as client:
            replies = [await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "hi"}) for _ in "ab"]

    spent = await limiter.store.get(f"tokens:{utc_day(limiter.clock())}:v:visitor-one", limiter.clock())
    assert [reply.status_code for reply in replies] == [200, 200]  # one at a time: the first one's slot was freed
    assert spent > 0


@pytest.fixture
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


def test_two_workers_sharing_redis_enforce_one_rate_per_visitor_and_per_address(redis_url: str, tmp_path: Path) -> None:
    env = {
        "RUN_STORE_URL": redis_url,
        "QUOTA_TURNS_PER_MINUTE": "4",
        "API_RATE_PER_MINUTE": "8",  # per client address: every request here comes from 127.0.0.1
        "STREAMING_BACKEND": "scripted",
        "SESSION_DB": str(tmp_path / "sessions.db"),
        **{name: "" for name in GEMINI_KEY_VARIABLES},
    }
    command = [sys.executable, "-m", "uvicorn", "streaming_core.api.app:create_app", "--factory", "--port", "{port}"]
    with (
        ServerProcess("worker 1", command, "/healthz", env) as one,
        ServerProcess("worker 2", command, "/healthz", env) as two,
    ):
        statuses = []
        with httpx.Client(cookies=COOKIE, timeout=30) as client:
            for worker in (one, two, one, two, one, two):
                with connect_sse(client, "GET", f"{worker.url}/chat/stream", params={"query": "hi"}) as source:
                    statuses.append(source.response.status_code)
                    retry_after = source.response.headers.get("retry-after")
                    if source.response.status_code == 200:
                        list(source.iter_sse())  # to the end: the turn's slot is freed
        others = []
        for worker, visitor in ((two, "visitor-two"), (one, "visitor-three"), (one, "visitor-four")):
            with httpx.Client(cookies={"adk_user": visitor}, timeout=30) as other:
                others.append(other.get(f"{worker.url}/chat/stream", params={"query": "hi"}))

    assert statuses == [200, 200, 200, 200, 429, 429]
    assert retry_after is not None and int(retry_after) >= 1
    # Other visitors are served until the address's 8 requests a minute are spent, counted across
    # both workers (neither saw more than 5).
    assert [reply.status_code for reply in others] == [200, 200, 429]
    assert others[2].json()["error"] == "too_many_requests"


async def test_spending_the_daily_gemini_budget_refuses_gemini_and_offers_another_backend(
    fake_gemini: FakeGeminiServer,
) -> None:
    limiter = tight(gemini_daily_budget=10)  # the fake reports 8 prompt tokens plus one per word
    fake_gemini.default = Scenario.reply("Gemini spends the whole budget on this answer.", chunks=3)
    with ApiServer(AssistantConfig(backend="gemini", persistent=False), load_settings(), LIMITS) as server:
        async with httpx.AsyncClient(cookies=COOKIE) as client:
            spent = await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": "hi"})
        async with httpx.AsyncClient(cookies={"adk_user": "someone-else"}) as client:
            refused = await client.get(f"{server.url}/chat/stream", params={"query": "hi"})
    scripted = [e for e in stream_turn_sync("hi", SCRIPTED, visitor="v:someone-else") if isinstance(e, TextDelta)]

    assert spent.named("done")[0]["status"] == "completed"
    assert await limiter.budget_left() == 0 and await limiter.spent_today() == 8 + 8
    assert refused.status_code == 429 and refused.json()["limit"] == "daily_budget"
    assert "local model or the scripted model" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) <= 86_400
    assert len(fake_gemini.requests) == 1  # the refused turn never reached Gemini
    assert scripted  # other backends still answer
