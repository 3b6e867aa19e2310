"""Streaming an answer block by block renders exactly like the whole text in one markdown element
(issue 13), checked in Chromium on a corpus of tricky answers streamed one character at a time,
so the page sees every prefix of the text: every awkward place a chunk can end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from streaming_core.testing.streamlit_browser import Browser, new_tab
from streaming_core.testing.streamlit_server import StreamlitServer

pytestmark = pytest.mark.browser

# Each is a chat message: the scripted answer echoes it after "You asked: " and before its own
# closing paragraph.
CORPUS = [
    "Lists\n\n- one\n- two\n  - nested a\n  - nested b\n\n- loose three\n\n  its second paragraph\n\n"
    "1. first\n2. second\n\n10) tenth\n-x not an item\n\nAfter the lists.",
    "Fences\n\n```python\ndef f():\n\n    return 1\n```\n\n~~~\n```\nnot closed by backticks\n\n~~~\n\n"
    "````md\n```\ninner\n```\n````\n\n    indented code\n\n    more indented code\n\nDone.",
    "Tables and quotes\n\n| a | b |\n|---|:-:|\n| 1 | **2** |\n| 3 | 4 |\n\n> quoted line\n> - quoted item\n>\n"
    "> second paragraph\n\n> another quote\nlazy line\n\nText after.",
    "Headings\n\n# Title #\nText right under the title\n\n## Sub *heading* ##\n\nSetext heading\n===\n\n---\n\n"
    "### Last\ntrailing text",
    "References\n\nSee [the docs] and [this][ref] and a footnote[^1].\n\nMore text.\n\n"
    '[the docs]: https://example.com/docs\n[ref]: https://example.com/ref "Title"\n[^1]: The note.\n\nAfter.',
    "Inert HTML\n\n<div>inline html</div>\n\n<script>window.__xss = 1</script>\n\n"
    '<img src=x onerror="window.__xss = 2">\n\nText &amp; <b>bold?</b>\n\n<!-- comment\n\n-->\n\nEnd.',
    "Unicode\n\nÜnïcödé — 日本語 ✓ 🎉\n\n- émoji 🚀 item\n- ключ\n\n**粗体** and *italic* עברית\n\nالعربية paragraph.",
]

# The tag tree (tags and non-blank text) of markdown containers, flattened across them.
STRUCTURE = """
(containers) => {
  const tree = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent.trim() ? node.textContent : null;
    if (node.nodeType !== Node.ELEMENT_NODE) return null;
    return [node.tagName.toLowerCase(), [...node.childNodes].map(tree).filter((child) => child !== null)];
  };
  return containers.flatMap((c) => [...c.childNodes].map(tree).filter((child) => child !== null));
}
"""
# The streamed answer on a one-shot page: the markdown elements from its first block on.
STREAMED_CONTAINERS = """
() => {
  const first = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMarkdown"]')]
    .find((element) => element.innerText.startsWith("You asked: "));
  const containers = [];
  for (let item = first.closest('[data-testid="stElementContainer"]'); item; item = item.nextElementSibling) {
    const markdown = item.querySelector(':scope > [data-testid="stMarkdown"] [data-testid="stMarkdownContainer"]');
    if (!markdown) break;
    containers.push(markdown);
  }
  return containers;
}
"""
MARKDOWN = '[data-testid="stMarkdownContainer"]'


@pytest.fixture(scope="module")
def tab(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    # Every chunk is its own update (no coalescing), so the page splits the text at every prefix.
    workdir = tmp_path_factory.mktemp("blocks")
    with StreamlitServer(workdir, {"STREAM_UPDATE_INTERVAL_S": "0"}) as server, new_tab(chromium, server) as browser:
        browser.open("chat")
        for label, value in [("First chunk after (s)", 0), ("Between chunks (s)", 0)]:
            browser.set_number(label, value)
        yield browser


@pytest.fixture(scope="module")
def whole_answers(tab: Browser) -> list[list[Any]]:
    """Each answer as the chat redraws it after its rerun: the whole text in one st.markdown."""
    tab.set_number("Characters per chunk", 500)  # the reference need not stream slowly
    for message in CORPUS:
        tab.run_after(lambda message=message: tab.chat(message), timeout_ms=60_000)
        tab.page.get_by_text("Metrics of the last answer").wait_for()  # the rerun redrew the conversation
    answers = tab.page.locator('[data-testid="stChatMessage"]').filter(has_text="You asked: ")
    structures = [tab.page.evaluate(STRUCTURE, item.locator(MARKDOWN).element_handles()) for item in answers.all()]
    tab.set_number("Characters per chunk", 1)
    return structures


@pytest.mark.parametrize("index", range(len(CORPUS)), ids=[text.split("\n")[0] for text in CORPUS])
def test_streamed_blocks_render_like_the_whole_answer_in_one_element(
    tab: Browser, whole_answers: list[list[Any]], index: int
) -> None:
    tab.open("progress")
    tab.page.get_by_label("Prompt").fill(CORPUS[index])

    tab.run_after(lambda: tab.page.get_by_role("button", name="Run").click(), timeout_ms=60_000)

    containers = tab.page.evaluate_handle(STREAMED_CONTAINERS)
    assert containers.evaluate("(containers) => containers.length") >= 2  # "You asked: …" is a block of its own
    assert tab.page.evaluate(STRUCTURE, containers) == whole_answers[index]
    assert tab.page.evaluate("window.__xss") is None
    assert tab.exceptions() == 0
