"""The benchmark's own tests: the fake Gemini and session files the soak in miniature runs against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming_core.testing.fake_gemini import FakeGeminiServer
from streaming_core.testing.paths import gemini_for_paths


@pytest.fixture(scope="package")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sessions")


@pytest.fixture(scope="package")
def gemini(sessions: Path) -> Iterator[FakeGeminiServer]:
    with gemini_for_paths(sessions) as server:
        yield server
