"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streaming_core.quotas import MemoryQuotaStore, QuotaLimiter, QuotaLimits, install_limiter
from streaming_core.testing.fake_gemini import FakeGeminiServer, fake_gemini_environment

# Out of the way of tests about something else; the quota tests install tight limits of their own.
ROOMY = QuotaLimits(turns_per_minute=10_000, concurrent_turns=1000, tokens_per_day=10**12, gemini_daily_budget=10**12)


@pytest.fixture(autouse=True)
def fresh_quotas() -> Iterator[None]:
    """Each test starts with empty in-process quota state (it would otherwise carry over: one
    process, one client address)."""
    install_limiter(QuotaLimiter(ROOMY, MemoryQuotaStore()))
    yield
    install_limiter(None)


@pytest.fixture
def fake_gemini(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGeminiServer]:
    """A local Gemini REST endpoint; the real google-genai client reaches it over HTTP."""
    with fake_gemini_environment(monkeypatch) as server:
        yield server
