"""Property: any split of any answer into partial events joins back to the answer exactly once."""

from __future__ import annotations

import itertools

from google.adk.events.event import Event
from google.genai import types
from hypothesis import given
from hypothesis import strategies as st

from streaming_core.events import TextDelta
from streaming_core.normalize import EventNormalizer


def _event(text: str, partial: bool) -> Event:
    return Event(author="model", partial=partial, content=types.Content(role="model", parts=[types.Part(text=text)]))


@st.composite
def split_answers(draw: st.DrawFn) -> tuple[str, list[str]]:
    answer = draw(st.text(min_size=1, max_size=400))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=max(1, len(answer) - 1)), max_size=40)))
    bounds = [0, *[c for c in cuts if c < len(answer)], len(answer)]
    return answer, [answer[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@given(split_answers())
def test_any_split_joins_back_exactly_once_in_sse_mode(case: tuple[str, list[str]]) -> None:
    answer, pieces = case
    normalizer = EventNormalizer()
    out = [e for piece in pieces for e in normalizer.feed(_event(piece, partial=True))]
    out += normalizer.feed(_event(answer, partial=False))

    assert "".join(e.text for e in out if isinstance(e, TextDelta)) == answer
    assert normalizer.matches_final is True


@given(st.text(min_size=1, max_size=400))
def test_any_answer_appears_once_in_none_mode(answer: str) -> None:
    normalizer = EventNormalizer()

    out = normalizer.feed(_event(answer, partial=False))

    assert out == [TextDelta(answer)]


@given(st.lists(split_answers(), min_size=1, max_size=3), split_answers())
def test_the_answer_text_is_every_delta_in_order_across_model_calls(
    calls: list[tuple[str, list[str]]], cut_off: tuple[str, list[str]]
) -> None:
    """Confirmed calls, then a call whose final event never came: `text` is what the consumer saw,
    `unconfirmed_text` only the last call's deltas."""
    normalizer = EventNormalizer()
    out = []
    for answer, pieces in calls:
        out += [e for piece in pieces for e in normalizer.feed(_event(piece, partial=True))]
        out += normalizer.feed(_event(answer, partial=False))
    out += [e for piece in cut_off[1] for e in normalizer.feed(_event(piece, partial=True))]

    assert normalizer.text == "".join(e.text for e in out if isinstance(e, TextDelta))
    assert normalizer.text == "".join(answer for answer, _ in calls) + cut_off[0]
    assert normalizer.unconfirmed_text == cut_off[0]
