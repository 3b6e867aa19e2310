"""Pages stream an answer as markdown elements that end at finished blocks (issue 13), or as one
element with STREAM_RENDERING=whole; either way the elements hold the whole answer, in order."""

from __future__ import annotations

from itertools import accumulate, pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming_core.markdown_blocks import split_blocks
from tests.app.apptest import Page
from ui.blocks import BlockFinished, LiveBlocks
from ui.context import scripted_text

QUESTION = "Explain blocks"


def _answer_elements(page: Page, answer: str) -> list[str]:
    """The markdown elements from the answer's first on, as many as hold its length."""
    values = [element.value for element in page.at.markdown]
    elements = values[next(i for i, value in enumerate(values) if value.startswith(f"You asked: {QUESTION}")) :]
    count = next(n for n in range(1, len(elements) + 1) if len("\n\n".join(elements[:n])) >= len(answer))
    return elements[:count]


@pytest.mark.parametrize("path", ["pages/4_progress.py", "pages/6_timeout.py"])
def test_finished_paragraphs_leave_the_live_element(path: str) -> None:
    page = Page(path)
    page.sidebar_number("scripted_paragraphs", 3)

    page.submit(QUESTION)

    answer = scripted_text(3).replace("{message}", QUESTION)
    elements = _answer_elements(page, answer)
    assert not page.at.exception
    assert len(elements) >= 2 and "\n\n".join(elements) == answer  # the last paragraph streams alone


def test_whole_rendering_keeps_the_answer_in_one_element(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_RENDERING", "whole")
    page = Page("pages/4_progress.py")
    page.sidebar_number("scripted_paragraphs", 3)

    page.submit(QUESTION)

    assert page.markdown_containing("Paragraph 3.") == [scripted_text(3).replace("{message}", QUESTION)]


LINES = ["Para", "- item", "-", "", "", "```", "code", "  - nested", "| a |", "x"]


@given(st.lists(st.sampled_from(LINES), max_size=20).map("\n".join), st.data())
def test_live_elements_are_replaced_by_whole_finished_blocks(text: str, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(text) - 1)))))
    blocks = LiveBlocks(iter([text[a:b] for a, b in pairwise([0, *cuts, len(text)]) if text[a:b]]))

    elements = []
    while not blocks.ended:
        shown: list[str] = []
        try:
            shown.extend(blocks.live())
            elements.append("".join(shown))
        except BlockFinished:
            elements.append(blocks.finish())
            assert elements[-1].startswith("".join(shown))  # no text jumps to the next element

    assert "".join(elements) == text
    ends = set(accumulate(len(element) for element in elements[:-1]))
    assert ends <= set(accumulate(len(block) for block in split_blocks(text).blocks))
