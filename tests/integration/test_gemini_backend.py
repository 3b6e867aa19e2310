"""The Gemini backend end to end: ADK Runner -> ADK Gemini -> google-genai -> HTTP -> local fake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import pytest
import pytest_asyncio
from google.adk.agents import LlmAgent
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.events import Event
from google.adk.models.google_llm import Gemini
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.genai import types

from streaming_core.backends.gemini import RETRY_OPTIONS, create_gemini, describe_gemini_error, redact_secrets
from streaming_core.errors import BackendUnavailable
from streaming_core.testing.datastores import free_port
from streaming_core.testing.fake_gemini import GENAI_VARIABLES, SENTINEL_KEY, FakeGeminiServer, Scenario

MODEL = "gemini-3.5-flash"
INSTRUCTION = "You are the streaming lab's test assistant."


@pytest.fixture
def fake(fake_gemini: FakeGeminiServer) -> FakeGeminiServer:
    return fake_gemini


RunnerFactory: TypeAlias = Callable[..., Awaitable[tuple[Runner, str]]]


@pytest_asyncio.fixture
async def new_runner(fake: FakeGeminiServer) -> AsyncIterator[RunnerFactory]:
    """Builds runners inside the test's event loop, because ADK keeps one genai client per loop."""
    models: list[Gemini] = []

    async def build(**agent_options: Any) -> tuple[Runner, str]:
        models.append(create_gemini(MODEL))
        agent = LlmAgent(name="lab_agent", model=models[-1], instruction=INSTRUCTION, **agent_options)
        sessions = InMemorySessionService()
        session = await sessions.create_session(app_name="lab", user_id="tester")
        return Runner(app_name="lab", agent=agent, session_service=sessions), session.id

    yield build
    for model in models:  # neither Runner.close() nor ADK closes the per-loop genai client's sockets
        await model.api_client.aio.aclose()


async def _run_turn(runner: Runner, session_id: str, text: str, mode: StreamingMode = StreamingMode.SSE) -> list[Event]:
    message = types.Content(role="user", parts=[types.Part(text=text)])
    events = runner.run_async(
        user_id="tester", session_id=session_id, new_message=message, run_config=RunConfig(streaming_mode=mode)
    )
    return [event async for event in events]


def _text(event: Event) -> str:
    return "".join(part.text or "" for part in (event.content.parts or [])) if event.content else ""


@pytest.mark.asyncio
async def test_sse_turn_partial_deltas_join_to_the_one_final_text(
    fake: FakeGeminiServer, new_runner: RunnerFactory
) -> None:
    fake.enqueue(Scenario.reply("Streaming arrives in small pieces.", chunks=4))
    runner, session_id = await new_runner()

    events = await _run_turn(runner, session_id, "hello")

    partials = [e for e in events if e.partial]
    finals = [e for e in events if not e.partial]
    assert len(partials) == 4
    assert [_text(e) for e in finals] == ["Streaming arrives in small pieces."]
    assert "".join(_text(e) for e in partials) == _text(finals[0])
    assert finals[0].is_final_response()


@pytest.mark.asyncio
async def test_none_mode_turn_yields_one_event_from_generate_content(
    fake: FakeGeminiServer, new_runner: RunnerFactory
) -> None:
    fake.enqueue(Scenario.reply("All at once.", chunks=3))
    runner, session_id = await new_runner()

    events = await _run_turn(runner, session_id, "hello", StreamingMode.NONE)

    assert [(_text(e), bool(e.partial)) for e in events] == [("All at once.", False)]
    assert fake.requests[-1].method == "generateContent"


@pytest.mark.asyncio
async def test_request_goes_to_v1beta_stream_endpoint_with_env_key_header(
    fake: FakeGeminiServer, new_runner: RunnerFactory
) -> None:
    runner, session_id = await new_runner()

    await _run_turn(runner, session_id, "hello")

    (request,) = fake.requests
    assert (request.api_version, request.model, request.method) == ("v1beta", MODEL, "streamGenerateContent")
    assert request.query == "alt=sse"
    assert request.api_key == SENTINEL_KEY


@pytest.mark.asyncio
async def test_request_carries_the_agent_instruction_as_system_instruction(
    fake: FakeGeminiServer, new_runner: RunnerFactory
) -> None:
    runner, session_id = await new_runner()

    await _run_turn(runner, session_id, "hello")

    assert INSTRUCTION in fake.requests[0].system_text


@pytest.mark.asyncio
async def test_second_turn_sends_the_first_turn_as_history(fake: FakeGeminiServer, new_runner: RunnerFactory) -> None:
    fake.enqueue(Scenario.reply("My name is Fake."), Scenario.reply("You asked my name."))
    runner, session_id = await new_runner()

    await _run_turn(runner, session_id, "What is your name?")
    await _run_turn(runner, session_id, "What did I ask?")

    assert fake.requests[1].turns == [
        ("user", "What is your name?"),
        ("model", "My name is Fake."),
        ("user", "What did I ask?"),
    ]


@pytest.mark.asyncio
async def test_function_call_runs_the_tool_and_sends_its_result_back(
    fake: FakeGeminiServer, new_runner: RunnerFactory
) -> None:
    def get_weather(city: str) -> dict[str, str]:
        """Returns the weather for a city."""
        return {"city": city, "forecast": "sunny"}

    fake.enqueue(Scenario.function_call("get_weather", {"city": "Paris"}), Scenario.reply("Sunny in Paris."))
    runner, session_id = await new_runner(tools=[get_weather])

    events = await _run_turn(runner, session_id, "Weather in Paris?")

    declared = fake.requests[0].body["tools"][0]["functionDeclarations"][0]["name"]
    sent_back = fake.requests[1].body["contents"][-1]["parts"][0]["functionResponse"]
    assert declared == "get_weather"
    assert sent_back["response"] == {"city": "Paris", "forecast": "sunny"}
    assert _text(events[-1]) == "Sunny in Paris."


@pytest.mark.parametrize(
    ("scenario", "code", "retry_after", "attempts"),
    [
        (Scenario.quota_exhausted(retry_delay="17s"), "quota", 17.0, 1),
        (Scenario.permission_denied(), "auth", None, 1),
        (Scenario.invalid_api_key(), "auth", None, 1),
        (Scenario.invalid_argument(), "bad_request", None, 1),
        (Scenario.internal_error(), "upstream", None, RETRY_OPTIONS.attempts),
        (Scenario.internal_error(after_chunks=1), "upstream", None, 1),
        (Scenario.cut(after_chunks=2), "network", None, 1),
    ],
    ids=["429", "403", "400-bad-key", "400", "500", "500-mid-stream", "cut-mid-stream"],
)
@pytest.mark.asyncio
async def test_failure_raises_and_maps_to_a_keyless_message(
    fake: FakeGeminiServer,
    new_runner: RunnerFactory,
    scenario: Scenario,
    code: str,
    retry_after: float | None,
    attempts: int,
) -> None:
    fake.enqueue(*[scenario] * attempts)
    runner, session_id = await new_runner()
    started = time.monotonic()

    with pytest.raises(Exception) as raised:
        await _run_turn(runner, session_id, "hello")

    failure = describe_gemini_error(raised.value)
    assert (failure.code, failure.retry_after) == (code, retry_after)
    assert SENTINEL_KEY not in failure.message
    # Retried only before the response starts, so streamed text is never repeated.
    assert len(fake.requests) == attempts
    assert time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_an_unreachable_base_url_says_gemini_could_not_be_reached(
    fake: FakeGeminiServer, new_runner: RunnerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on a fresh free port: google-genai's transport (aiohttp) is refused at connect.
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", f"http://127.0.0.1:{free_port()}")
    runner, session_id = await new_runner()

    with pytest.raises(Exception) as raised:
        await _run_turn(runner, session_id, "hello")

    failure = describe_gemini_error(raised.value)
    assert (failure.code, failure.retryable) == ("network", True)
    assert failure.message == "Could not reach Gemini — check the network or GOOGLE_GEMINI_BASE_URL."
    assert not fake.requests


@pytest.mark.asyncio
async def test_server_error_before_the_first_chunk_is_retried_transparently(
    fake: FakeGeminiServer, new_runner: RunnerFactory
) -> None:
    fake.enqueue(Scenario.internal_error(), Scenario.reply("Recovered.", chunks=2))
    runner, session_id = await new_runner()

    events = await _run_turn(runner, session_id, "hello")

    assert _text(events[-1]) == "Recovered."
    assert len(fake.requests) == 2


@pytest.mark.asyncio
async def test_safety_blocked_prompt_surfaces_as_error_code_not_exception(
    fake: FakeGeminiServer, new_runner: RunnerFactory
) -> None:
    fake.enqueue(Scenario(kind="blocked_prompt"))
    runner, session_id = await new_runner()

    events = await _run_turn(runner, session_id, "something unsafe")

    assert {e.error_code for e in events} == {"SAFETY"}
    assert not any(_text(e) for e in events)


@pytest.mark.asyncio
async def test_cancelling_the_consumer_of_a_hung_stream_disconnects_from_the_model(
    fake: FakeGeminiServer, new_runner: RunnerFactory
) -> None:
    fake.enqueue(Scenario(kind="hang"))
    runner, session_id = await new_runner()
    consumer = asyncio.create_task(_run_turn(runner, session_id, "hello"))
    await asyncio.to_thread(fake.wait_for_requests, 1)

    consumer.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(consumer, timeout=5)
    assert await asyncio.to_thread(fake.disconnected.wait, 5)
    assert fake.disconnects == 1


def test_describe_gemini_error_never_echoes_the_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", SENTINEL_KEY)

    failure = describe_gemini_error(ValueError(f"bad url https://x/?alt=sse&key={SENTINEL_KEY}"))

    assert failure.code == "unknown"
    assert SENTINEL_KEY not in failure.message
    assert redact_secrets("key=AIzaSyA-abcdefghijklmnopqrstuvwxyz01234") == "key=[redacted]"


def test_create_gemini_without_any_key_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_API_KEY", *GENAI_VARIABLES):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(BackendUnavailable, match="GOOGLE_API_KEY"):
        create_gemini(MODEL)
