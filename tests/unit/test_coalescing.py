"""Coalescing at the model seam: joined text deltas are the same text, nothing waits, nothing leaks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

import pytest
from google.adk.models.llm_response import LlmResponse
from google.adk.utils.streaming_utils import StreamingResponseAggregator
from google.genai import types
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming_core.coalescing import coalesced, join_responses, text_kind
from streaming_core.errors import ModelError
from streaming_core.model_seam import TurnPacer


def text(piece: str, *, thought: bool | None = None, partial: bool = True, **fields: object) -> LlmResponse:
    part = types.Part(text=piece, thought=thought)
    return LlmResponse(content=types.Content(role="model", parts=[part]), partial=partial, **fields)  # type: ignore[arg-type]


def call(name: str) -> LlmResponse:
    part = types.Part(function_call=types.FunctionCall(name=name, args={}))
    return LlmResponse(content=types.Content(role="model", parts=[part]), partial=True)


@dataclass
class Backlog:
    """A turn with an event on its way to its client while `behind`; `caught_up` returns once
    `written` is set (at once unless a test clears it)."""

    behind: bool = True
    waits: int = 0

    def __post_init__(self) -> None:
        self.written = asyncio.Event()
        self.written.set()

    async def caught_up(self) -> None:
        self.waits += 1
        await self.written.wait()


def behind() -> Backlog:
    return Backlog()


@dataclass
class Model:
    """A model's response stream that notes how far it got and whether it was closed."""

    responses: Sequence[LlmResponse]
    suspend_between: bool = False
    hang_after: int | None = None
    fail_after: int | None = None
    produced: int = 0
    closed: bool = False

    async def stream(self) -> AsyncGenerator[LlmResponse, None]:
        try:
            for index, response in enumerate(self.responses):
                if index == self.hang_after:
                    await asyncio.Event().wait()
                if index == self.fail_after:
                    raise ModelError("the model failed mid-answer", code="upstream")
                if index and self.suspend_between:
                    await asyncio.sleep(0)
                self.produced += 1
                yield response
        finally:
            self.closed = True


async def drain(model: Model, pacer: TurnPacer | Backlog, size: int = 64) -> list[LlmResponse]:
    return [response async for response in coalesced(model.stream(), pacer, size)]


def texts(responses: Sequence[LlmResponse]) -> list[tuple[bool | None, str]]:
    return [
        (r.content.parts[0].thought, r.content.parts[0].text or "") for r in responses if r.content and r.content.parts
    ]


def runs(pieces: Sequence[tuple[bool | None, str]]) -> list[tuple[bool | None, str]]:
    """The text of each run of one kind, in order: what coalescing may never change."""
    return [(kind, "".join(t for _, t in group)) for kind, group in itertools.groupby(pieces, key=lambda p: p[0])]


async def test_ready_text_deltas_are_joined_while_the_reader_is_behind() -> None:
    model = Model([text(c) for c in "streaming"])

    joined = await drain(model, behind())

    assert texts(joined) == [(None, "streaming")]
    assert joined[0].partial is True


async def test_a_delta_ready_while_an_earlier_event_is_on_its_way_waits_for_it_and_takes_what_is_ready() -> None:
    model = Model([text(c) for c in "abcdef"], suspend_between=True)  # one chunk per loop step
    backlog = Backlog()
    backlog.written.clear()  # the first event stays on its way to the client
    responses = coalesced(model.stream(), backlog, 64)

    first = await anext(responses)
    second = asyncio.ensure_future(anext(responses))
    for _ in range(20):
        await asyncio.sleep(0)
    held, produced_while_held = not second.done(), model.produced
    backlog.written.set()
    rest = [await second, *[response async for response in responses]]

    assert texts([first]) == [(None, "a")]  # the first response never waits
    assert held and produced_while_held == 6  # its output waited; the model never did
    assert texts(rest) == [(None, "bcdef")] and backlog.waits == 1


async def test_nothing_is_joined_while_the_reader_keeps_up() -> None:
    model = Model([text(c) for c in "abc"])

    assert texts(await drain(model, TurnPacer())) == [(None, "a"), (None, "b"), (None, "c")]


async def test_the_first_response_is_handed_over_after_at_most_one_more_model_step() -> None:
    model = Model([text(c) for c in "x" * 100])  # a model that never waits
    responses = coalesced(model.stream(), TurnPacer(), 64)

    first = await anext(responses)

    assert texts([first]) == [(None, "x")] and model.produced <= 2
    await responses.aclose()


async def test_function_calls_final_responses_and_thoughts_next_to_text_stay_apart() -> None:
    usage = types.GenerateContentResponseUsageMetadata(candidates_token_count=3)
    stream = [
        text("think "),
        text("ing", thought=True),
        text(" more", thought=True),
        call("get_weather"),
        text("a"),
        text("b", finish_reason=types.FinishReason.STOP),
        text("ab", partial=False, usage_metadata=usage),
    ]

    joined = await drain(Model(stream), behind())

    assert texts(joined) == [(None, "think "), (True, "ing more"), (None, ""), (None, "a"), (None, "b"), (None, "ab")]
    assert joined[2] is stream[3] and joined[-2] is stream[-2] and joined[-1] is stream[-1]


def test_a_joined_response_keeps_the_newest_usage_and_the_model_version() -> None:
    older = types.GenerateContentResponseUsageMetadata(candidates_token_count=1)
    newer = types.GenerateContentResponseUsageMetadata(candidates_token_count=2)
    run = [
        text("a", usage_metadata=older, model_version="m"),
        text("b", usage_metadata=newer, model_version="m"),
        text("c", model_version="m"),
    ]

    joined = join_responses(run)

    assert texts([joined]) == [(None, "abc")]
    assert joined.usage_metadata == newer and joined.model_version == "m" and joined.partial is True


def test_responses_carrying_more_than_text_keep_their_own_kind() -> None:
    assert text_kind(text("a")) == text_kind(text("b")) != text_kind(text("c", thought=True))
    assert text_kind(text("a", model_version="m1")) != text_kind(text("a", model_version="m2"))
    assert text_kind(text("a", avg_logprobs=-0.5)) is None
    assert text_kind(text("a", partial=False)) is None
    assert text_kind(call("f")) is None
    signed = LlmResponse(
        content=types.Content(role="model", parts=[types.Part(text="a", thought_signature=b"s")]), partial=True
    )
    assert text_kind(signed) is None


async def test_a_model_error_comes_after_every_response_before_it() -> None:
    model = Model([text(c) for c in "abcd"], fail_after=3)

    got: list[LlmResponse] = []
    with pytest.raises(ModelError, match="mid-answer"):
        async for response in coalesced(model.stream(), behind(), 64):
            got.append(response)

    assert "".join(t for _, t in texts(got)) == "abc" and model.closed


async def test_cancelling_the_turn_closes_the_model_and_leaves_no_task() -> None:
    model = Model([text(c) for c in "abcdef"], hang_after=3)
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in coalesced(model.stream(), TurnPacer(), 64):
            first.set()

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    await asyncio.sleep(0.01)  # the model is hanging now, the reader waits for it
    consumer.cancel()
    await asyncio.wait([consumer])

    assert consumer.cancelled() and model.closed
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_closing_early_stops_a_model_held_by_a_full_read_ahead() -> None:
    model = Model([text(c) for c in "x" * 50])
    responses = coalesced(model.stream(), TurnPacer(), 4)
    await anext(responses)
    await asyncio.sleep(0)  # the read-ahead fills up and holds the model

    await responses.aclose()

    assert model.closed and model.produced < 50
    assert asyncio.all_tasks() == {asyncio.current_task()}


pieces = st.lists(st.tuples(st.sampled_from([None, True]), st.text(min_size=1, max_size=8)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(pieces, st.lists(st.booleans(), min_size=1), st.booleans(), st.integers(min_value=1, max_value=8))
def test_any_chunking_keeps_every_run_of_text_in_order(
    chunks: list[tuple[bool | None, str]], reader_behind: list[bool], suspend: bool, size: int
) -> None:
    backlog = Backlog(behind=False)
    behind_now = itertools.cycle(reader_behind)

    class Flickering(Model):
        """The reader falls behind and catches up as the draw says, between the model's chunks."""

        async def stream(self) -> AsyncGenerator[LlmResponse, None]:
            async for response in super().stream():
                backlog.behind = next(behind_now)
                yield response

    model = Flickering([text(t, thought=kind) for kind, t in chunks], suspend_between=suspend)
    joined = asyncio.run(drain(model, backlog, size))

    assert runs(texts(joined)) == runs(chunks)
    assert len(joined) <= len(chunks)


@settings(max_examples=40, deadline=None)
@given(pieces)
def test_joined_partials_from_adk_s_aggregator_equal_its_final_response(chunks: list[tuple[bool | None, str]]) -> None:
    """Gemini's SSE path: ADK's StreamingResponseAggregator makes the partials and the final
    aggregated response inside the model, before the seam joins partials."""

    async def gemini_like() -> AsyncGenerator[LlmResponse, None]:
        aggregator = StreamingResponseAggregator()
        for kind, piece in chunks:
            chunk = types.GenerateContentResponse(
                candidates=[
                    types.Candidate(content=types.Content(role="model", parts=[types.Part(text=piece, thought=kind)]))
                ]
            )
            async for response in aggregator.process_response(chunk):
                yield response
        if (final := aggregator.close()) is not None:
            yield final

    async def run() -> list[LlmResponse]:
        return [response async for response in coalesced(gemini_like(), behind(), 64)]

    joined = asyncio.run(run())
    final = joined[-1]
    partials = [r for r in joined if r.partial]

    assert final.partial is not True and final.content is not None
    streamed = "".join(t for kind, t in texts(partials) if not kind)
    final_text = "".join(p.text or "" for p in final.content.parts or [] if not p.thought)
    assert streamed == final_text == "".join(t for kind, t in chunks if not kind)
