"""TextParts: text kept in blocks while it arrives in pieces."""

from __future__ import annotations

from streaming_core.text_parts import _BLOCK, TextParts


def test_text_joins_every_piece_in_order_across_blocks() -> None:
    parts = TextParts()
    assert not parts and parts.text == ""
    pieces = [str(index % 10) for index in range(3 * _BLOCK + 7)]
    parts.extend(pieces[:5])
    for piece in pieces[5:]:
        parts.append(piece)
    assert parts and parts.text == "".join(pieces)


def test_a_long_answer_of_one_character_chunks_is_held_as_blocks() -> None:
    parts = TextParts()
    for index in range(10 * _BLOCK):
        parts.append(chr(ord("a") + index % 26))
    assert len(parts._blocks) == 10 and not parts._pieces
    assert all(len(block) == _BLOCK for block in parts._blocks)
