"""AppTest set-up: the scripted backend, sessions in a temporary SQLite file, no API keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming_core.backends import GEMINI_KEY_VARIABLES


@pytest.fixture(scope="package", autouse=True)
def scripted_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Set once for these tests (assistants are cached per process, so SESSION_DB must not change
    between them) and restored afterwards, so other test packages see their own environment."""
    db = tmp_path_factory.mktemp("app") / "sessions.db"
    with pytest.MonkeyPatch.context() as patch:
        for name in GEMINI_KEY_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("STREAMING_BACKEND", "scripted")
        patch.setenv("SESSION_DB", str(db))
        yield db
