"""Splitting streamed markdown into finished blocks: safe boundaries only, a frozen block never
changes, and blocks rendered one by one render like the whole text (markdown-it-py, CommonMark +
GFM tables, as the oracle; st.markdown dedents and strips every body, so the oracle does too)."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from streaming_core.markdown_blocks import BlockSplitter, split_blocks

_RENDERER = MarkdownIt("commonmark").enable("table")

# Lines that make block structure hard: fences of both kinds and lengths, loose and nested lists,
# tables, quotes, indented code, HTML, references, math, headings, breaks, tabs and unicode.
LINES = [
    "",
    "",
    "",
    "Plain text here.",
    "Ünïcödé — 日本語 ✓",
    "# Heading with *trailing* text #",
    "Setext",
    "===",
    "---",
    "***",
    "- item",
    "-",
    "-x",
    "* star item",
    "+ plus",
    "1. one",
    "2) two",
    "2024 was a year",
    "  - nested",
    "   continuation",
    "    indented code",
    "\tTabbed",
    "```",
    "```python",
    "````",
    "~~~",
    "~~~ info",
    "   ```",
    "  ```",
    "> quote",
    "> - quoted item",
    ">",
    "| a | b |",
    "|---|---|",
    "| 1 | 2 |",
    "<div>",
    "<pre>",
    "</pre>",
    "<!-- comment",
    "-->",
    "see [the docs]",
    "[the docs]: https://example.com",
    "an [inline](https://example.com) link",
    "a footnote[^1]",
    "[^1]: the note",
    "$$",
    "x^2",
    "**bold** start",
    "\u00a0nbsp start",
]


def render(markdown: str) -> str:
    return _RENDERER.render(textwrap.dedent(markdown).strip())


documents = st.lists(st.sampled_from(LINES), max_size=30).map("\n".join)


@given(documents)
def test_blocks_rendered_separately_render_like_the_whole_text(text: str) -> None:
    split = split_blocks(text)

    assert "".join(split.blocks) + split.tail == text
    assert "".join(render(part) for part in (*split.blocks, split.tail)) == render(text)


@given(documents, st.data())
def test_a_frozen_block_never_changes_as_the_text_grows(text: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(text)))

    earlier = split_blocks(text[:cut]).blocks

    assert split_blocks(text).blocks[: len(earlier)] == earlier


@given(documents, st.lists(st.integers(1, 8), min_size=1))
def test_fed_in_pieces_it_finds_the_same_blocks_and_never_shows_text_past_a_future_boundary(
    text: str, sizes: list[int]
) -> None:
    final = BlockSplitter()
    final.feed(text)
    splitter = BlockSplitter()
    start = 0
    while start < len(text):
        for size in sizes:
            splitter.feed(text[start : start + size])
            start += size
            later = [end for end in final.boundaries if end > (splitter.boundaries or [0])[-1]]
            assert all(splitter.settled <= end for end in later)

    assert splitter.boundaries == final.boundaries


@pytest.mark.parametrize(
    ("text", "blocks"),
    [
        ("First paragraph.\n\nSecond", ["First paragraph.\n\n"]),
        ("# Title\n\nText\n\n| a |\n|---|\n| 1 |\n\nAfter", ["# Title\n\n", "Text\n\n", "| a |\n|---|\n| 1 |\n\n"]),
        ("> quote\n> more\n\nAfter", ["> quote\n> more\n\n"]),
        ("- a\n\n- b\n  - c\n\n  loose\n\nAfter", ["- a\n\n- b\n  - c\n\n  loose\n\n"]),
        ("```\ncode\n\nmore\n```\n\nAfter", ["```\ncode\n\nmore\n```\n\n"]),
    ],
)
def test_finished_blocks_end_at_a_blank_line_before_a_new_block(text: str, blocks: list[str]) -> None:
    assert list(split_blocks(text).blocks) == blocks


@pytest.mark.parametrize(
    "text",
    [
        "```\ncode\n\nstill code",
        "~~~ info\ncode\n\n```\nstill code",
        "````\n```\n\nstill code",
        "- a\n\n- b",
        "1. a\n\n2. b",
        "- a\n\n  continued in the item",
        "    indented code\n\n    still code",
        "<pre>\n\nstill html",
        "$$\nx\n\ny",
        "see [the docs]\n\nlater",
        "[^1]: a note\n\nlater",
        "  indented first line\n\nlater",
    ],
)
def test_no_block_is_finished_where_the_whole_text_matters(text: str) -> None:
    assert split_blocks(text).blocks == ()


def test_a_line_that_may_still_become_a_list_item_is_held_back() -> None:
    splitter = BlockSplitter()

    splitter.feed("- a\n\n-")
    held = splitter.settled
    splitter.feed("x")

    assert held == len("- a\n\n") and splitter.boundaries == [held]
