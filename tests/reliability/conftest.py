"""One fake Gemini for the whole package, in the environment before any assistant exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fake_gemini_environment
from tests.fakes.fake_gemini import FakeGeminiServer


@pytest.fixture(scope="package")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session stores (SQLite) live, so tests can search them for the API key."""
    return tmp_path_factory.mktemp("sessions")


@pytest.fixture(scope="package")
def gemini(sessions: Path) -> Iterator[FakeGeminiServer]:
    """Package-wide, not per test: the core path's assistant is cached for the process, so the
    Gemini address and SESSION_DB it was built with must stay valid for every test here."""
    with pytest.MonkeyPatch.context() as patch, fake_gemini_environment(patch) as server:
        patch.setenv("SESSION_DB", str(sessions / "core.db"))
        yield server
