"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

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
