"""A failure nothing else recognises is described by the backend the assistant was built for."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse

from streaming_core.agent import build_agent
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm
from streaming_core.events import Done, StreamError
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.sessions import create_session_service
from streaming_core.settings import load_settings


class BuggyModel(ScriptedLlm):
    """A model whose own code breaks: not a ModelError, nothing the core knows how to describe."""

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        raise RuntimeError("index out of range in the sampler")
        yield  # an async generator, as ADK expects


async def test_an_unexpected_model_failure_names_the_backend_not_gemini() -> None:
    """Regression: it read "Gemini call failed (...)" whatever the backend."""
    assistant = Assistant(build_agent(BuggyModel()), create_session_service(None), backend="local")

    events = [event async for event in assistant.stream_turn("Hello?")]

    errors = [event for event in events if isinstance(event, StreamError)]
    assert [error.message for error in errors] == ["The local Gemma 3 270M failed (RuntimeError)."]
    assert isinstance(events[-1], Done) and events[-1].status == "error"


def test_a_built_assistant_knows_its_backend() -> None:
    settings = load_settings({"STREAMING_BACKEND": "scripted"})

    assert build_assistant(AssistantConfig(backend="scripted", persistent=False), settings).backend == "scripted"
