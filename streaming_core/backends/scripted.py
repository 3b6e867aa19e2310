"""A deterministic ADK model for tests and reproducible demos: scripted text, pacing and faults."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.adk.models._capabilities import LlmCapabilities
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types
from pydantic import PrivateAttr

from streaming_core.errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_TEXT = (
    "You asked: {message}\n\n"
    "This answer comes from the scripted model, so it is the same every time. "
    "In StreamingMode.SSE, ADK yields partial events that each carry a small piece of "
    "text, then one final event that repeats the whole answer. A consumer that prints every "
    "event shows the answer twice; this project treats the final event as confirmation only. "
    "Change the pacing in the sidebar to watch time to first chunk and chunk gaps move."
)


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """One scripted model turn. `{message}` is replaced by the user's last message and
    `{tool_result}` by the JSON of the last tool response."""

    text: str = DEFAULT_TEXT
    chunk_size: int = 12
    first_chunk_delay: float = 0.0
    chunk_delay: float = 0.0
    fail_after: int | None = None
    failure_code: str = "upstream"
    hang_after: int | None = None
    # Left out of the hash (a dict is unhashable) so AssistantConfig(script=...) can key the
    # assistant cache; equality still compares it.
    function_call: tuple[str, dict[str, Any]] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if min(self.first_chunk_delay, self.chunk_delay) < 0:
            raise ValueError("delays cannot be negative")


@dataclass
class ScriptLog:
    """What the scripted model saw and did, for tests to assert on."""

    requests: list[LlmRequest] = field(default_factory=list)
    started: int = 0
    completed: int = 0
    cancelled: int = 0


class ScriptedLlm(BaseLlm):
    """Plays `replies` in order, then repeats the last one."""

    model: str = "scripted"
    replies: Sequence[ScriptedReply] = (ScriptedReply(),)
    _log: ScriptLog = PrivateAttr(default_factory=ScriptLog)

    @property
    def capabilities(self) -> LlmCapabilities:
        return LlmCapabilities()

    @property
    def log(self) -> ScriptLog:
        return self._log

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        reply = self.replies[min(len(self._log.requests), len(self.replies) - 1)]
        self._log.requests.append(llm_request)
        self._log.started += 1
        try:
            async for response in self._play(reply, llm_request, stream):
                yield response
            self._log.completed += 1
        except (asyncio.CancelledError, GeneratorExit):
            self._log.cancelled += 1
            raise

    async def _play(self, reply: ScriptedReply, request: LlmRequest, stream: bool) -> AsyncGenerator[LlmResponse, None]:
        tool_result = _last_tool_result(request)
        if reply.function_call is not None and tool_result is None:
            name, args = reply.function_call
            part = types.Part(function_call=types.FunctionCall(name=name, args=args))
            yield LlmResponse(content=types.Content(role="model", parts=[part]), turn_complete=True)
            return
        text = reply.text.replace("{message}", _last_user_text(request))
        text = text.replace("{tool_result}", json.dumps(tool_result, default=str))
        chunks = [text[i : i + reply.chunk_size] for i in range(0, len(text), reply.chunk_size)]
        await asyncio.sleep(reply.first_chunk_delay)
        clock = asyncio.get_running_loop()
        started = clock.time()
        for index, chunk in enumerate(chunks):
            if index == reply.fail_after:
                raise ModelError(
                    f"The scripted model failed after {index} chunks (a simulated {reply.failure_code} fault).",
                    code=reply.failure_code,
                    retryable=True,
                )
            if index == reply.hang_after:
                await asyncio.Event().wait()  # silent until cancelled, like a stalled connection
            # Chunk i is due chunk_delay × i after the first, as from a remote model streaming at its own
            # pace: a consumer running late finds the overdue chunks ready at once, not each a delay later.
            if index and (wait := started + index * reply.chunk_delay - clock.time()) > 0:
                await asyncio.sleep(wait)
            if stream:
                yield _text_response(chunk, partial=True)
        final = _text_response(text, partial=False)
        # One "token" per word read and chunk sent: ADK's telemetry warns on every turn without usage.
        prompt_words = sum(len((part.text or "").split()) for c in request.contents for part in c.parts or [])
        final.usage_metadata = types.GenerateContentResponseUsageMetadata(
            prompt_token_count=prompt_words,
            candidates_token_count=len(chunks),
            total_token_count=prompt_words + len(chunks),
        )
        yield final


def _text_response(text: str, *, partial: bool) -> LlmResponse:
    content = types.Content(role="model", parts=[types.Part(text=text)])
    return LlmResponse(content=content, partial=partial, turn_complete=not partial)


def _last_user_text(request: LlmRequest) -> str:
    for content in reversed(request.contents):
        texts = [part.text for part in content.parts or [] if part.text]
        if content.role == "user" and texts:
            return "".join(texts)
    return ""


def _last_tool_result(request: LlmRequest) -> dict[str, Any] | None:
    last = request.contents[-1] if request.contents else None
    for part in (last.parts or []) if last else []:
        if part.function_response is not None:
            return dict(part.function_response.response or {})
    return None
