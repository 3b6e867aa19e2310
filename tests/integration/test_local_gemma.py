"""The local Gemma backend against the real packaged model: streaming, ADK Runner, cancel, queueing."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed: pip install -r requirements.txt")

from google.adk.agents import LlmAgent
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.models import LlmRequest, LlmResponse
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.genai import types

from streaming_core.agent import build_agent
from streaming_core.assistant import Assistant
from streaming_core.backends.gemma_prompt import conversation_turns
from streaming_core.backends.local_gemma import (
    N_CTX,
    THREAD_NAME_PREFIX,
    LocalGemmaLlm,
    _load_model,
    _word_tokens,
    create_local_gemma,
)
from streaming_core.events import Queued, StreamEvent, TextDelta
from streaming_core.sessions import create_session_service

pytestmark = pytest.mark.local_model

# The tutorial's prompt; the few-shot frame answers it in full with greedy decoding (issue 16: the bare
# prompt answered "10"; "Count from 1 to 10." now stops at 9, see docs/evals.md).
COUNT_PROMPT = "Count to 10"
COUNTED = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"


@pytest.fixture(scope="module")
def llm() -> LocalGemmaLlm:
    return create_local_gemma()


def make_request(text: str, *, system: str | None = None, **config: object) -> LlmRequest:
    return LlmRequest(
        contents=[types.Content(role="user", parts=[types.Part(text=text)])],
        config=types.GenerateContentConfig(system_instruction=system, **config),
    )


def text_of(response: LlmResponse) -> str:
    assert response.content is not None and response.content.parts
    return "".join(part.text or "" for part in response.content.parts)


def gemma_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME_PREFIX)]


def test_conversation_turns_render_tool_parts_as_text_and_merge_roles() -> None:
    contents = [
        types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
        types.Content(role="model", parts=[types.Part.from_function_call(name="weather", args={"city": "Paris"})]),
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="weather", response={"sky": "sunny"})],
        ),
        types.Content(role="user", parts=[types.Part(inline_data=types.Blob(mime_type="image/png", data=b"x"))]),
    ]

    turns = conversation_turns(contents)

    assert [role for role, _ in turns] == ["user", "model", "user"]
    assert "weather" in turns[1][1] and "Paris" in turns[1][1]
    assert "sunny" in turns[2][1]


@pytest.mark.asyncio
async def test_stream_short_answer_partials_join_to_final(llm: LocalGemmaLlm) -> None:
    request = make_request(COUNT_PROMPT, max_output_tokens=16)

    responses = [r async for r in llm.generate_content_async(request, stream=True)]

    *partials, final = responses
    assert len(partials) > 1
    assert all(r.partial and text_of(r) for r in partials)
    assert final.partial is False and final.turn_complete is True
    assert text_of(final) == "".join(text_of(r) for r in partials)
    assert text_of(final).startswith("1, 2, 3")
    assert final.finish_reason == types.FinishReason.MAX_TOKENS
    assert final.usage_metadata is not None and final.usage_metadata.candidates_token_count == 16


@pytest.mark.asyncio
async def test_non_streaming_yields_exactly_one_full_response(llm: LocalGemmaLlm) -> None:
    request = make_request("What is the capital of France?")

    responses = [r async for r in llm.generate_content_async(request, stream=False)]

    assert len(responses) == 1
    assert not responses[0].partial
    assert "Paris" in text_of(responses[0])
    assert responses[0].finish_reason == types.FinishReason.STOP


@pytest.mark.asyncio
async def test_runner_sse_count_to_ten_streams_the_numbers(llm: LocalGemmaLlm) -> None:
    agent = LlmAgent(name="counter", model=llm, instruction="Answer briefly.")
    sessions = InMemorySessionService()
    runner = Runner(agent=agent, app_name="lab", session_service=sessions)
    session = await sessions.create_session(app_name="lab", user_id="u")
    message = types.Content(role="user", parts=[types.Part(text=COUNT_PROMPT)])

    events = [
        e
        async for e in runner.run_async(
            user_id="u",
            session_id=session.id,
            new_message=message,
            run_config=RunConfig(streaming_mode=StreamingMode.SSE),
        )
    ]

    deltas = [p.text for e in events if e.partial and e.content for p in e.content.parts or [] if p.text]
    finals = [e for e in events if not e.partial and e.content]
    assert len(deltas) > 1
    assert COUNTED in "".join(deltas)
    assert len(finals) == 1 and finals[0].content is not None
    assert finals[0].content.parts and finals[0].content.parts[0].text == "".join(deltas)


@pytest.mark.asyncio
async def test_early_close_stops_worker_within_a_token(llm: LocalGemmaLlm) -> None:
    request = make_request("Write an essay about the history of Rome.", max_output_tokens=400)
    before = set(gemma_threads())
    stream = llm.generate_content_async(request, stream=True)
    for _ in range(3):
        await anext(stream)
    (worker,) = set(gemma_threads()) - before

    started = time.perf_counter()
    await stream.aclose()
    closed_after = time.perf_counter() - started

    worker.join(timeout=1.0)  # aclose() already waited for its last item; this only covers exit
    assert not worker.is_alive()
    assert not llm.is_busy()
    assert closed_after < 0.5  # the remaining ~390 tokens would take several seconds


@pytest.mark.asyncio
async def test_concurrent_generations_are_serialized_and_both_complete(llm: LocalGemmaLlm) -> None:
    order: list[str] = []
    waiting_at_first_chunk: list[int] = []

    async def ask(label: str, question: str) -> str:
        final = ""
        async for response in llm.generate_content_async(make_request(question), stream=True):
            if not order:
                waiting_at_first_chunk.append(llm.waiting_requests())
            order.append(label)
            final = text_of(response)
        return final

    counted, capital = await asyncio.gather(
        ask("count", COUNT_PROMPT), ask("capital", "What is the capital of France?")
    )

    assert counted.startswith(COUNTED) and "Paris" in capital
    first = order[0]
    assert order == sorted(order, key=lambda label: label != first)  # one finished before the other began
    assert waiting_at_first_chunk == [1]
    assert llm.waiting_requests() == 0


@pytest.mark.asyncio
async def test_request_cancelled_while_queued_leaves_the_queue(llm: LocalGemmaLlm) -> None:
    running = llm.generate_content_async(make_request(COUNT_PROMPT, max_output_tokens=64), stream=True)
    await anext(running)  # the model is now busy with this request
    queued = asyncio.create_task(anext(llm.generate_content_async(make_request("What is 2 + 2?"))))
    async with asyncio.timeout(5):  # no event marks "queued"; poll the counter the UI would read
        while llm.waiting_requests() == 0:
            await asyncio.sleep(0.01)

    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued

    assert llm.waiting_requests() == 0
    rest = [r async for r in running]
    assert text_of(rest[-1]).startswith(COUNTED)
    (answer,) = [r async for r in llm.generate_content_async(make_request("What is 2 + 2?"))]
    assert "4" in text_of(answer)


@pytest.mark.asyncio
async def test_the_answer_copies_no_long_run_of_the_message(llm: LocalGemmaLlm) -> None:
    # Without the echo guard the base model says this statement straight back (docs/evals.md).
    message = "My favourite food is pizza."
    tokenize = _load_model(llm.model_path, llm.n_threads).llama.tokenize

    (response,) = [r async for r in llm.generate_content_async(make_request(message))]

    size = llm.frame.no_copy_run
    said, answer = (tokenize(f" {text}".encode(), add_bos=False) for text in (message, text_of(response)))
    runs = {tuple(said[i : i + size]) for i in range(len(said) - size + 1)}
    assert text_of(response).strip()
    assert not any(tuple(answer[i : i + size]) in runs for i in range(len(answer) - size + 1))
    # The statement is as long as the run, so only the start guard keeps the answer off its words.
    assert answer[: llm.frame.no_copy_start] != said[: llm.frame.no_copy_start]


@pytest.mark.asyncio
async def test_a_count_ends_at_the_last_number_of_the_message(llm: LocalGemmaLlm) -> None:
    # Without the count bound the base model writes 1, 2, 3, 4 and runs on to 20, 21, 30, ... (docs/evals.md).
    (response,) = [r async for r in llm.generate_content_async(make_request("Count to 4"))]

    assert [int(n) for n in re.findall(r"\d+", text_of(response))] == [1, 2, 3, 4]


def test_the_words_of_a_message_are_its_tokens_that_start_a_word_of_three_letters(llm: LocalGemmaLlm) -> None:
    llama = _load_model(llm.model_path, llm.n_threads).llama
    message = llama.tokenize(b" How many legs does a spider have? 8 of them", add_bos=False)

    words = [llama.detokenize([token]).decode() for token in _word_tokens(llama, message)]

    assert words == [" How", " many", " legs", " does", " spider", " have", " them"]


@pytest.mark.asyncio
async def test_the_answer_does_not_open_with_a_word_of_the_message(llm: LocalGemmaLlm) -> None:
    # Without the guard the base model answered "And of Italy?" with "Italy." (docs/evals.md).
    message = "What is the capital of Portugal?"
    llama = _load_model(llm.model_path, llm.n_threads).llama

    (response,) = [r async for r in llm.generate_content_async(make_request(message))]

    said = _word_tokens(llama, llama.tokenize(f" {message}".encode(), add_bos=False))
    assert llama.tokenize(f" {text_of(response)}".encode(), add_bos=False)[0] not in said


@pytest.mark.asyncio
async def test_long_conversation_is_truncated_to_fit_context(llm: LocalGemmaLlm) -> None:
    filler = "Tell me more about the Roman aqueducts and their engineering. " * 20
    contents = [
        types.Content(role="user" if i % 2 == 0 else "model", parts=[types.Part(text=f"{i}: {filler}")])
        for i in range(40)
    ]
    contents.append(types.Content(role="user", parts=[types.Part(text="What is the capital of France?")]))
    # The largest output budget halves the prompt budget, and with it the test's prompt evaluation.
    config = types.GenerateContentConfig(max_output_tokens=N_CTX // 2, stop_sequences=["."])
    request = LlmRequest(contents=contents, config=config)

    (response,) = [r async for r in llm.generate_content_async(request)]

    assert response.usage_metadata is not None and response.usage_metadata.prompt_token_count
    assert N_CTX // 4 < response.usage_metadata.prompt_token_count <= N_CTX // 2
    assert response.finish_reason == types.FinishReason.STOP


@pytest.mark.asyncio
async def test_two_visitors_get_their_own_answers_and_the_second_is_told_it_waits(llm: LocalGemmaLlm) -> None:
    assistant = Assistant(build_agent(llm), create_session_service(None))
    first_chunk = asyncio.Event()

    async def visitor(question: str, started: asyncio.Event | None = None) -> list[StreamEvent]:
        events = []
        async for event in assistant.stream_turn(question):
            if started is not None and isinstance(event, TextDelta):
                started.set()
            events.append(event)
        return events

    first = asyncio.create_task(visitor(COUNT_PROMPT, first_chunk))
    await first_chunk.wait()  # the model is busy with the first visitor
    second = await visitor("What is the capital of France?")
    counted = await first

    assert not any(isinstance(e, Queued) for e in counted)
    assert second[0] == Queued("model_busy", second[0].message, ahead=1) and "queued" in second[0].message
    assert all(str(n) in counted[-1].text for n in range(1, 11)) and "Paris" in second[-1].text
    assert counted[-1].session_id != second[-1].session_id
