"""The app under AppTest: one page at a time, with the scripted model's pacing set from the sidebar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from streaming_core.backends.scripted import ScriptedLlm, ScriptLog
from streaming_core.runtime import AssistantConfig
from streaming_core.sync_api import call_assistant
from ui.navigation import PATTERNS

APP = Path(__file__).resolve().parents[2] / "app.py"
PAGES = [pattern.path for pattern in PATTERNS]  # the router's registry, not a copy of it


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
