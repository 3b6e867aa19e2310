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
