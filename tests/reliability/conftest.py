"""One fake Gemini for the whole package, in the environment before any assistant exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming_core.testing.fake_gemini import FakeGeminiServer
from streaming_core.testing.paths import gemini_for_paths


@pytest.fixture(scope="package")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session stores (SQLite) live, so tests can search them for the API key."""
    return tmp_path_factory.mktemp("sessions")


@pytest.fixture(scope="package")
def gemini(sessions: Path) -> Iterator[FakeGeminiServer]:
    """Package-wide, not per test: one fake for the core path's cached assistant (`gemini_for_paths`)."""
    with gemini_for_paths(sessions) as server:
        yield server
