"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streaming_core.testing.fake_gemini import FakeGeminiServer, fake_gemini_environment


@pytest.fixture
def fake_gemini(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGeminiServer]:
    """A local Gemini REST endpoint; the real google-genai client reaches it over HTTP."""
    with fake_gemini_environment(monkeypatch) as server:
        yield server
