"""The chat page itself on the Gemini backend: a fault shows its message next to the partial answer,
the next message works, and neither a traceback nor the API key appears anywhere on the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Node

from streaming_core.testing.fake_gemini import SENTINEL_KEY, FakeGeminiServer, Scenario
from streaming_core.testing.faults import FAULTS, NEXT_ANSWER, NEXT_PROMPT, PROMPT, Fault
from tests.app.apptest import APP

CHAT = "pages/2_chat.py"
# One fault per way the page renders an outcome (partial answer kept, quota, key, empty, recovered);
# the core path runs the whole table, and the chat page sets no time limit for "hangs".
SHOWN = {"cut mid-stream", "429 RESOURCE_EXHAUSTED", "403 bad key", "empty candidate", "500, then success"}
PAGE_FAULTS = [fault for fault in FAULTS if fault.name in SHOWN]


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def page_text(at: AppTest) -> str:
    """Everything every element of the page holds, main area and sidebar."""
    return "\n".join(str(getattr(node, "proto", "")) for root in (at.main, at.sidebar) for node in walk(root))


@pytest.mark.parametrize("fault", PAGE_FAULTS, ids=[fault.name for fault in PAGE_FAULTS])
def test_chat_page_shows_the_fault_and_the_partial_answer_but_never_a_traceback_or_the_key(
    gemini: FakeGeminiServer, fault: Fault
) -> None:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    at.switch_page(CHAT).run()
    gemini.clear()
    gemini.enqueue(*fault.scenarios, Scenario.reply(NEXT_ANSWER))

    at.chat_input[0].set_value(PROMPT).run()
    after_fault = page_text(at)
    at.chat_input[0].set_value(NEXT_PROMPT).run()

    replies = [message for message in at.chat_message if message.name == "assistant"]
    answers = ["".join(markdown.value for markdown in reply.markdown) for reply in replies]
    assert not at.exception
    assert fault.message in after_fault and (fault.code is not None or not at.error)
    assert fault.text in answers[0] and answers[-1] == NEXT_ANSWER
    for page in (after_fault, page_text(at)):
        assert "Traceback (most recent call last)" not in page and SENTINEL_KEY not in page
