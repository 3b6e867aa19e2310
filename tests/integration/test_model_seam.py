"""The model seam through the real ADK Runner: what ADK keeps per partial response stays bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from google.adk.models.google_llm import Gemini
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.telemetry._instrumentation import inference_scope
from google.genai import types

from streaming_core.agent import build_agent
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.events import Done, TextDelta
from streaming_core.model_seam import (
    TurnPacer,
    add_model_seam,
    current_outlet,
    current_pacer,
    keep_what_telemetry_reads,
)
from streaming_core.sessions import create_session_service

ANSWER = "".join(f"{n % 10}" for n in range(2_000))


class ObservedLlm(ScriptedLlm):
    """The scripted model, noting how much ADK holds each time it asks for the next chunk."""

    recorded_most: int = 0
    ahead_most: int = 0

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        scope, pacer = inference_scope(), current_pacer.get()
        async for response in super().generate_content_async(llm_request, stream):
            yield response
            if scope is not None:
                self.recorded_most = max(self.recorded_most, len(scope.llm_responses))
            if pacer is not None:
                self.ahead_most = max(self.ahead_most, pacer.ahead)


def usage(tokens: int) -> types.GenerateContentResponseUsageMetadata:
    return types.GenerateContentResponseUsageMetadata(candidates_token_count=tokens)


async def test_a_long_answer_keeps_few_responses_and_events_and_every_character() -> None:
    model = ObservedLlm(replies=(ScriptedReply(text=ANSWER, chunk_size=1),))
    assistant = Assistant(build_agent(model), create_session_service(None))

    events = [event async for event in assistant.stream_turn("count")]

    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ANSWER
    assert isinstance(events[-1], Done) and events[-1].status == "completed" and events[-1].matches_final
    assert model.recorded_most <= 3  # ADK alone would hold all 2,000 partial responses
    assert model.ahead_most <= TurnPacer().window  # and queue all 2,000 partial events


def test_telemetry_keeps_the_newest_usage_and_the_last_response_in_order() -> None:
    with_usage = LlmResponse(partial=True, usage_metadata=usage(3))
    responses = [LlmResponse(partial=True), with_usage, LlmResponse(partial=True), last := LlmResponse(partial=True)]

    keep_what_telemetry_reads(responses)

    assert responses == [with_usage, last]


def test_the_seam_keeps_a_gemini_model_a_gemini_model() -> None:
    model = Gemini(model="gemini-test")

    seamed = add_model_seam(model)

    assert seamed is model and isinstance(model, Gemini) and add_model_seam(model) is model


async def produce(pacer: TurnPacer) -> None:
    """What the seam does after each partial response."""
    if pacer.produced_one():
        await pacer.room()


async def test_the_pacer_holds_the_model_only_while_the_reader_is_a_window_behind() -> None:
    pacer = TurnPacer(window=4)
    for _ in range(3):
        assert not pacer.produced_one()
    held = asyncio.create_task(produce(pacer))
    await asyncio.sleep(0)
    assert not held.done()

    for _ in range(3):
        pacer.took_one()
    await asyncio.wait_for(held, 5)


async def test_a_pacer_whose_count_drifted_lets_go_once_the_reader_waits() -> None:
    pacer = TurnPacer(window=2, recheck_s=0.01)
    pacer.reader_waiting = True  # a response ADK made no event of: nothing left for the reader

    await asyncio.wait_for(asyncio.gather(*(produce(pacer) for _ in range(5))), 5)


class Connection:
    """An outlet with one client whose write of the last event is pending until `write()`."""

    def __init__(self) -> None:
        self.sending = True
        self._written = asyncio.Event()

    async def sent(self) -> None:
        await self._written.wait()

    def write(self) -> None:
        self.sending = False
        self._written.set()


async def test_the_turn_is_behind_until_the_reader_took_every_event_and_the_client_got_it() -> None:
    connection = Connection()
    token = current_outlet.set(connection)
    try:
        pacer = TurnPacer()  # picks up the outlet of the task that reads the turn
    finally:
        current_outlet.reset(token)
    pacer.produced_one()
    caught_up = asyncio.create_task(pacer.caught_up())

    await asyncio.sleep(0)
    assert pacer.behind and not caught_up.done()  # the event is still in ADK's queue
    pacer.took_one()
    await asyncio.sleep(0)
    assert pacer.behind and not caught_up.done()  # and then on its way to the client
    connection.write()
    await asyncio.wait_for(caught_up, 5)
    assert not pacer.behind


async def test_a_pacer_without_an_outlet_catches_up_when_the_reader_took_everything() -> None:
    pacer = TurnPacer()
    pacer.produced_one()
    caught_up = asyncio.create_task(pacer.caught_up())
    await asyncio.sleep(0)

    pacer.took_one()

    await asyncio.wait_for(caught_up, 5)
    assert pacer.outlet is None and not pacer.behind


async def test_a_pacer_whose_count_drifted_is_caught_up_once_the_reader_waits() -> None:
    pacer = TurnPacer(recheck_s=0.01, ahead=1)
    pacer.reader_waiting = True  # a response ADK made no event of: nothing left for the reader

    await asyncio.wait_for(pacer.caught_up(), 5)

    assert not pacer.behind
