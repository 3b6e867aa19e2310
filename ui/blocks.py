"""A streaming answer as markdown elements: finished blocks written once, the live one streamed
(issue 13). st.write_stream resends all the text it has on every update, so it only ever gets
the block still being written."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import streamlit as st

from streaming_core.markdown_blocks import BlockSplitter
from ui.stop import check_for_stop


class BlockFinished(Exception):
    """Ends a live block's write_stream call without its final render: the finished blocks replace
    its element instead, so they are sent once (write_stream would first resend the live text)."""


class LiveBlocks:
    """An answer as elements: each live block streamed by its own st.write_stream call, then
    replaced by the finished blocks, written once with st.markdown (issue 13).

    write_stream resends all the text it got on every update, so it only ever gets the block
    still being written. Once a piece finishes that block (and maybe more), `live` raises
    BlockFinished and `finish` gives the text up to the last finished block, which replaces the
    live element: a finished block is sent once in full and never again.
    """

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces
        self._splitter = BlockSplitter()
        self._start = self._shown = 0  # where the live block starts; text given to its element
        self.ended = False

    def live(self) -> Generator[str, None, None]:
        """The live block's text for one write_stream call, until the stream ends; raises
        BlockFinished when a piece finishes the block."""
        splitter = self._splitter
        while True:
            if self._finished() > self._start:
                raise BlockFinished
            if splitter.settled > self._shown:  # not past a line that may still start a new block
                yield splitter.text[self._shown : splitter.settled]
                self._shown = splitter.settled
            else:  # held back: write_stream gets no call, so let Stop in here
                check_for_stop()
            piece = next(self._pieces, None)
            if piece is None:
                self.ended = True
                if len(splitter.text) > self._shown:
                    yield splitter.text[self._shown :]
                return
            splitter.feed(piece)

    def finish(self) -> str:
        """The finished blocks that replace the live element after BlockFinished."""
        finished = self._finished()
        blocks = self._splitter.text[self._start : finished]
        self._start = self._shown = finished
        return blocks

    def _finished(self) -> int:
        return self._splitter.boundaries[-1] if self._splitter.boundaries else 0


def write_blocks(pieces: Iterator[str]) -> None:
    """Writes the text `pieces` make as markdown elements: the live block through st.write_stream,
    finished blocks once with st.markdown. A Stop or rerun raises out of here as from write_stream."""
    blocks = LiveBlocks(pieces)
    while not blocks.ended:
        slot = st.empty()
        live = blocks.live()
        try:
            slot.write_stream(live)
        except BlockFinished:
            slot.markdown(blocks.finish())
        finally:
            live.close()
