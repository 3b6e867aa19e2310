"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from streaming_core.quotas import MemoryQuotaStore, QuotaLimiter, QuotaLimits, install_limiter
from tests.fakes.fake_gemini import FakeGeminiServer

SENTINEL_KEY = "test-key-SENTINEL-123"
GENAI_VARIABLES = (
    "GEMINI_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


# Out of the way of tests about something else; the quota tests install tight limits of their own.
ROOMY = QuotaLimits(turns_per_minute=10_000, concurrent_turns=1000, tokens_per_day=10**12, gemini_daily_budget=10**12)


@pytest.fixture(autouse=True)
def fresh_quotas() -> Iterator[None]:
    """Each test starts with empty in-process quota state (it would otherwise carry over: one
    process, one client address)."""
    install_limiter(QuotaLimiter(ROOMY, MemoryQuotaStore()))
    yield
    install_limiter(None)


@contextmanager
def fake_gemini_environment(patch: pytest.MonkeyPatch, *, keep: int | None = None) -> Iterator[FakeGeminiServer]:
    """A local Gemini REST endpoint that google-genai's variables point at, with SENTINEL_KEY."""
    # Set before any model exists: ADK builds its genai client, which reads these, on first use.
    for name in GENAI_VARIABLES:
        patch.delenv(name, raising=False)
    with FakeGeminiServer(keep=keep) as server:
        patch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
        patch.setenv("GOOGLE_API_KEY", SENTINEL_KEY)
        yield server


@pytest.fixture
def fake_gemini(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGeminiServer]:
    """A local Gemini REST endpoint; the real google-genai client reaches it over HTTP."""
    with fake_gemini_environment(monkeypatch) as server:
        yield server
