"""GET /metrics: parsed with prometheus_client's own parser, counters move with real turns, labels
never carry a visitor id or message text, and only the owner can read it."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streaming_core import telemetry
from streaming_core.api.app import create_app
from streaming_core.api.limits import ApiLimits, load_limits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.errors import ConfigurationError
from streaming_core.events import TextDelta
from streaming_core.quotas import MemoryQuotaStore, QuotaLimiter, QuotaLimits, install_limiter
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings
from streaming_core.sync_api import stream_turn_sync
from streaming_core.testing.servers import ApiServer
from streaming_core.testing.sse import read_sse

SETTINGS = Settings(backend="scripted")
VISITOR = "visitor-SECRET-id-123"
MESSAGE = "message SECRET text 456"
TOKEN = "metrics-token-0123456789abcdef"
OK = ScriptedReply(text="ok")
FAILS = ScriptedReply(text="partial answer", chunk_size=4, fail_after=1)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_counters_move_with_real_turns_and_no_label_carries_a_visitor_or_a_message() -> None:
    install_limiter(QuotaLimiter(QuotaLimits(turns_per_minute=3), MemoryQuotaStore()))
    config = AssistantConfig(backend="scripted", persistent=False, script=(OK, OK, FAILS))
    with ApiServer(config, SETTINGS, ApiLimits(ping_s=0)) as server:
        async with httpx.AsyncClient(cookies={"adk_user": VISITOR}) as client:
            before = samples((await client.get(f"{server.url}/metrics")).text)
            for _ in range(3):  # the script: two answers that complete, one that fails
                await read_sse(client, "GET", f"{server.url}/chat/stream", params={"query": MESSAGE})
            refused = await client.get(f"{server.url}/chat/stream", params={"query": MESSAGE})
            scraped = await client.get(f"{server.url}/metrics")
    after = samples(scraped.text)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    assert refused.status_code == 429
    assert moved("adk_turns_started_total", backend="scripted") == 3
    assert moved("adk_turns_finished_total", backend="scripted", outcome="completed", error="") == 2
    assert moved("adk_turns_finished_total", backend="scripted", outcome="error", error="upstream") == 1
    assert moved("adk_time_to_first_chunk_seconds_count", backend="scripted") == 3
    assert moved("adk_turn_seconds_count", backend="scripted") == 3
    assert moved("adk_quota_refusals_total", limit="turns_per_minute") == 1
    assert moved("adk_model_tokens_total", backend="scripted") > 0
    assert value(after, "adk_active_streams") == 0 and value(after, "adk_queued_turns") == 0
    assert value(after, "adk_gemini_daily_budget_tokens") == QuotaLimits().gemini_daily_budget
    labels = {label for name, pairs in after for _, label in pairs}
    assert not [label for label in labels if "SECRET" in label or "127.0.0.1" in label]


async def test_with_a_token_metrics_need_it_even_from_loopback() -> None:
    with ApiServer(AssistantConfig(backend="scripted"), SETTINGS, ApiLimits(metrics_token=TOKEN)) as server:
        async with httpx.AsyncClient() as client:
            missing = await client.get(f"{server.url}/metrics")
            wrong = await client.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"})
            right = await client.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert missing.status_code == 401 and wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert right.status_code == 200 and "adk_turns_started" in right.text


async def test_without_a_token_metrics_are_refused_to_other_hosts() -> None:
    app = create_app(AssistantConfig(backend="scripted"), settings=SETTINGS, limits=ApiLimits())
    transport = httpx.ASGITransport(app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://demo.example") as client:
        refused = await client.get("/metrics")

    assert refused.status_code == 403 and "METRICS_TOKEN" in refused.json()["detail"]


@pytest.mark.parametrize("token", ["short", "has spaces in the middle of it", "ünïcödé-token-0123456789"])
def test_a_weak_or_malformed_metrics_token_is_a_configuration_error(token: str) -> None:
    with pytest.raises(ConfigurationError, match="METRICS_TOKEN"):
        load_limits({"METRICS_TOKEN": token})


def test_a_stopped_and_a_timed_out_turn_are_counted_as_such_and_leave_no_active_stream() -> None:
    hangs = AssistantConfig(
        backend="scripted", persistent=False, script=(ScriptedReply(text="abcdef", chunk_size=2, hang_after=1),)
    )

    def finished(outcome: str) -> float:
        labels = {"backend": "scripted", "outcome": outcome, "error": ""}
        return telemetry.REGISTRY.get_sample_value("adk_turns_finished_total", labels) or 0.0

    stopped_before, timeouts_before = finished("stopped"), finished("timeout")
    stream = stream_turn_sync("stop me", hangs, visitor="v:someone")
    next(event for event in stream if isinstance(event, TextDelta))
    stream.close()  # Stop: the core cancels the model call
    list(stream_turn_sync("time me out", hangs, visitor="v:someone", timeout_s=0.5))

    assert finished("stopped") == stopped_before + 1
    assert finished("timeout") == timeouts_before + 1
    assert telemetry.REGISTRY.get_sample_value("adk_active_streams") == 0
