"""Pages stream an answer as one markdown element per finished block (issue 13), or as one element
with STREAM_RENDERING=whole; either way the elements hold the whole answer, in order."""

from __future__ import annotations

import pytest

from tests.app.apptest import Page
from ui.context import scripted_text

QUESTION = "Explain blocks"


def _answer_elements(page: Page, count: int) -> list[str]:
    values = [element.value for element in page.at.markdown]
    start = values.index(f"You asked: {QUESTION}")
    return values[start : start + count]


@pytest.mark.parametrize("path", ["pages/4_progress.py", "pages/6_timeout.py"])
def test_each_finished_paragraph_is_its_own_markdown_element(path: str) -> None:
    page = Page(path)
    page.sidebar_number("scripted_paragraphs", 3)

    page.submit(QUESTION)

    expected = scripted_text(3).replace("{message}", QUESTION).split("\n\n")  # the echo is a paragraph too
    assert not page.at.exception
    assert _answer_elements(page, len(expected)) == expected


def test_whole_rendering_keeps_the_answer_in_one_element(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_RENDERING", "whole")
    page = Page("pages/4_progress.py")
    page.sidebar_number("scripted_paragraphs", 3)

    page.submit(QUESTION)

    assert page.markdown_containing("Paragraph 3.") == [scripted_text(3).replace("{message}", QUESTION)]
