"""The demo's Prometheus metrics: turns by backend and outcome, their timings, streams, queues,
quota refusals and tokens. Labels are backend names, outcomes, error codes and limit names only:
never a visitor id or anything a person or the model wrote.

The collectors live in this module's own registry, not prometheus_client's global one, so a
second import (Streamlit reloading a changed module during development) starts afresh instead
of failing on duplicate names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds: from a scripted model's few milliseconds to a slow local model's minute.
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)

REGISTRY = CollectorRegistry()
TURNS_STARTED = Counter("adk_turns_started", "Turns let in, by backend.", ["backend"], registry=REGISTRY)
TURNS_FINISHED = Counter(
    "adk_turns_finished",
    "Turns that ended, by backend and outcome (completed, stopped, timeout, error); error: the error code.",
    ["backend", "outcome", "error"],
    registry=REGISTRY,
)
TIME_TO_FIRST_CHUNK = Histogram(
    "adk_time_to_first_chunk_seconds", "Time to the first text of an answer.", ["backend"], buckets=_BUCKETS,
    registry=REGISTRY,
)  # fmt: skip
TURN_TIME = Histogram(
    "adk_turn_seconds", "Time from the start of a turn to its end.", ["backend"], buckets=_BUCKETS, registry=REGISTRY
)
ACTIVE_STREAMS = Gauge("adk_active_streams", "Turns streaming now (pages and API).", registry=REGISTRY)
QUEUED_TURNS = Gauge(
    "adk_queued_turns", "Turns waiting for a busy model or conversation before their first text.", registry=REGISTRY
)
QUOTA_REFUSALS = Counter("adk_quota_refusals", "Turns refused by a quota, by limit.", ["limit"], registry=REGISTRY)
TOKENS = Counter("adk_model_tokens", "Model tokens counted here, by backend.", ["backend"], registry=REGISTRY)
TOKENS_SPENT_TODAY = Gauge(
    "adk_gemini_tokens_spent_today", "Gemini tokens spent today (UTC) by every visitor.", registry=REGISTRY
)
DAILY_BUDGET = Gauge("adk_gemini_daily_budget_tokens", "GEMINI_DAILY_TOKEN_BUDGET.", registry=REGISTRY)


def exposition(spent_today: int, daily_budget: int) -> bytes:
    """The text format, with the shared (maybe cross-process) budget gauges read just now."""
    TOKENS_SPENT_TODAY.set(spent_today)
    DAILY_BUDGET.set(daily_budget)
    return generate_latest(REGISTRY)
