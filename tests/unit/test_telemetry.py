"""The metrics module survives being imported again (Streamlit reloads changed modules while
developing): its collectors live in its own registry, never registered twice."""

from __future__ import annotations

import importlib

from prometheus_client import REGISTRY as GLOBAL_REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from streaming_core import telemetry


def test_reloading_the_metrics_module_neither_fails_nor_touches_the_global_registry() -> None:
    importlib.reload(telemetry)
    importlib.reload(telemetry)
    telemetry.TURNS_STARTED.labels("scripted").inc()

    names = {family.name for family in text_string_to_metric_families(telemetry.exposition(5, 10).decode())}

    assert {"adk_turns_started", "adk_gemini_tokens_spent_today", "adk_quota_refusals"} <= names
    assert GLOBAL_REGISTRY.get_sample_value("adk_turns_started_total", {"backend": "scripted"}) is None
