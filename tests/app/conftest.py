"""AppTest fixtures: the real app on the scripted backend, sessions in a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from streaming_core.backends.scripted import ScriptedLlm, ScriptLog
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import GEMINI_KEY_VARIABLES
from streaming_core.sync_api import call_assistant

APP = Path(__file__).resolve().parents[2] / "app.py"
PAGES = [
    "pages/1_basic_streaming.py",
    "pages/2_chat.py",
    "pages/3_aggregation.py",
    "pages/4_progress.py",
    "pages/5_multi_output.py",
    "pages/6_timeout.py",
    "pages/7_tools.py",
    "pages/8_errors.py",
    "pages/9_sse_api.py",
]


@pytest.fixture(scope="session", autouse=True)
def scripted_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Set once per session: assistants are cached per process, so SESSION_DB must not change."""
    db = tmp_path_factory.mktemp("app") / "sessions.db"
    with pytest.MonkeyPatch.context() as patch:
        for name in GEMINI_KEY_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("STREAMING_BACKEND", "scripted")
        patch.setenv("SESSION_DB", str(db))
        yield db


class Page:
    """One page of the app under AppTest, with the scripted model's pacing set from the sidebar."""

    def __init__(self, path: str | None, *, first_delay: float = 0.0, chunk_delay: float = 0.0) -> None:
        self.at = AppTest.from_file(str(APP), default_timeout=30)
        self.at.run()
        if path is not None:
            self.at.switch_page(path).run()
        self.sidebar_number("scripted_first_delay", first_delay)
        self.sidebar_number("scripted_chunk_delay", chunk_delay)
        self.at.run()

    def sidebar_number(self, key: str, value: float) -> None:
        self.at.sidebar.number_input(key=key).set_value(value)

    def submit(self, text: str | None = None) -> AppTest:
        """Fills the page's prompt box (if given) and presses its form's submit button."""
        if text is not None:
            self.at.text_area[0].set_value(text)
        submit = next(button for button in self.at.button if button.proto.is_form_submitter)
        return submit.click().run()

    def config(self, **changes: Any) -> AssistantConfig:
        """The core config the page used on its last run."""
        return self.at.session_state["page_context"].config(**changes)

    def markdown_containing(self, text: str) -> list[str]:
        return [element.value for element in self.at.markdown if text in element.value]


def script_log(config: AssistantConfig) -> ScriptLog:
    async def read(assistant: Any) -> ScriptLog:
        model = assistant.agent.model
        assert isinstance(model, ScriptedLlm)
        return model.log

    return call_assistant(config, read)


@pytest.fixture
def open_page() -> type[Page]:
    return Page
