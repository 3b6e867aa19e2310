"""Markdown that is still being written, split into finished top-level blocks and the live tail.

A page renders each finished block once and resends only the tail (issue 13), so a split must
never change what the reader sees: the blocks and the tail, each rendered as its own markdown
document, must render like the whole text. A block ends at a blank line followed by a line at
column 0 that cannot continue it. Anything that makes the whole document matter (reference links
and footnotes, HTML blocks, math blocks, a code fence we cannot pair for sure) stops splitting for
the rest of the text: when in doubt the tail keeps growing, which costs bytes, never correctness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

# A list item's marker followed by its content; an item continues a list across blank lines.
_MARKER = re.compile(r"(?:[-+*]|\d{1,9}[.)])[ \t]")
_EMPTY_ITEM = re.compile(r"(?:[-+*]|\d{1,9}[.)])[ \t]*")
_MARKER_PREFIX = re.compile(r"[-+*]|\d{1,9}[.)]?")  # an unfinished line that may still become one
_FENCE_OPEN = re.compile(r"( {0,3})(`{3,}(?=[^`]*$)|~{3,})")
_FENCE_LIKE = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*")
# Inline links whose destination is plain: `[text](url)`. Every other `]` may be a reference
# (`[foo]`, `[foo][bar]`, `[^1]`, `[foo]: url`) that a definition elsewhere in the text resolves.
_PLAIN_LINK = re.compile(r"\]\([^\s()<>]*\)")
# HTML blocks (some span blank lines) and math blocks (`$$`, remark-math) at a line's start.
_HTML_START = re.compile(r" {0,3}<[A-Za-z/!?]")


@dataclass(frozen=True, slots=True)
class BlockSplit:
    """`text` as finished blocks (never change as the text grows) and the tail still being written."""

    blocks: tuple[str, ...]
    tail: str


@dataclass(frozen=True, slots=True)
class _Fence:
    char: str
    length: int
    indent: int


def split_blocks(text: str) -> BlockSplit:
    """The finished blocks of `text` and its tail; `"".join(blocks) + tail == text`."""
    splitter = BlockSplitter()
    splitter.feed(text)
    ends = (0, *splitter.boundaries)
    blocks = tuple(text[start:end] for start, end in pairwise(ends))
    return BlockSplit(blocks, text[ends[-1] :])


class BlockSplitter:
    """Incremental `split_blocks`: feed text as it arrives; only new lines are scanned."""

    # The current block's state, from its complete lines.
    _fence: _Fence | None  # an open fenced code block
    _list: bool  # it has list items: a blank line and a marker continues the list
    _content: bool  # a non-blank line so far
    _after_blank: bool  # the last line was blank: the next may start a new block
    _flush_line: bool  # a line at column 0 (st.markdown dedents a body that has none)
    _clean_end: bool  # its last line does not end in whitespace that st.markdown would strip

    def __init__(self) -> None:
        self.text = ""
        self.boundaries: list[int] = []  # where each finished block ends
        self._line = 0  # start of the first line not scanned yet (always a complete-line boundary)
        self._stopped = False
        self._new_block()

    @property
    def settled(self) -> int:
        """Text up to here can be shown in the tail's element: no block can end before it any more.

        Past it the start of a line that may still become a block's first line (`-` after a list
        could be `- item` or `-x`), held back until a few more characters decide.
        """
        if self._undecided():
            return self._line
        return len(self.text)

    def feed(self, piece: str) -> None:
        self.text += piece
        while not self._stopped:
            newline = self.text.find("\n", self._line)
            line = self.text[self._line : newline if newline >= 0 else len(self.text)].removesuffix("\r")
            if self._after_blank and line.strip(" \t"):
                ends = self._block_ends_before(line, complete=newline >= 0)
                if ends is None:
                    return  # undecided: wait for more of this line
                if ends:
                    self.boundaries.append(self._line)
                    self._new_block()
                self._after_blank = False
            if newline < 0:
                return
            self._scan(line)
            self._line = newline + 1

    def _new_block(self) -> None:
        self._fence = None
        self._list = False
        self._content = False
        self._after_blank = False
        self._flush_line = False
        self._clean_end = True

    def _undecided(self) -> bool:
        if self._stopped or not self._after_blank:
            return False
        line = self.text[self._line :]
        return "\n" not in line and bool(line.strip(" \t")) and self._block_ends_before(line, complete=False) is None

    def _block_ends_before(self, line: str, *, complete: bool) -> bool | None:
        """Whether the block ends before `line` (the first non-blank line after a blank one); None
        while an unfinished line cannot tell yet."""
        if self._fence is not None or not self._may_end_block() or line[0].isspace():
            return False  # an indented line may continue a list item or an indented code block
        if not self._list:
            return True
        if _MARKER.match(line) or (complete and _EMPTY_ITEM.fullmatch(line)):
            return False  # the next item of the same list
        if not complete and _MARKER_PREFIX.fullmatch(line):
            return None
        return True

    def _may_end_block(self) -> bool:
        # st.markdown dedents and strips its body: a block must render as it does in the whole text.
        return self._content and self._flush_line and self._clean_end

    def _scan(self, line: str) -> None:
        """Updates the current block's state with one complete line."""
        if not line.strip(" \t"):
            self._after_blank = self._content
            return
        self._content = True
        self._flush_line = self._flush_line or not line[0].isspace()
        self._clean_end = not line.rstrip(" \t")[-1].isspace()
        if self._fence is not None:
            self._scan_fenced(line, self._fence)
        elif _stops_splitting(line):
            self._stopped = True
        elif opening := _FENCE_OPEN.match(line):
            marks = opening.group(2)
            self._fence = _Fence(marks[0], len(marks), len(opening.group(1)))
        elif _indent(line) <= 3 and (_MARKER.match(line.lstrip(" ")) or _EMPTY_ITEM.fullmatch(line.strip(" \t"))):
            self._list = True

    def _scan_fenced(self, line: str, fence: _Fence) -> None:
        indent = _indent(line)
        like = _FENCE_LIKE.fullmatch(line)
        marks = like.group(1) if like is not None else ""
        # A fence opened with indentation may belong to a list item, whose end closes it without a
        # closing line (or whose closing line may sit deeper). Pairing could then go wrong: stop.
        if fence.indent and (indent < fence.indent or (marks and indent > 3)):
            self._stopped = True
        elif marks and indent <= 3 and marks[0] == fence.char and len(marks) >= fence.length:
            self._fence = None


def _stops_splitting(line: str) -> bool:
    return line.count("]") != len(_PLAIN_LINK.findall(line)) or "$$" in line or _HTML_START.match(line) is not None


def _indent(line: str) -> int:
    """Columns of leading whitespace, tabs to the next multiple of 4 (CommonMark)."""
    column = 0
    for char in line:
        if char == " ":
            column += 1
        elif char == "\t":
            column += 4 - column % 4
        else:
            break
    return column
