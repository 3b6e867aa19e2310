"""One chat turn with memory: ADK Runner.run_async -> normalized, measured, typed events.

`Assistant.open_turn` validates the message and resolves the session before anything
streams, so the API can answer bad input with a 4xx; `Turn.events` then always ends with
exactly one Done, whatever happened (completed, error, timeout).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field

from google.adk.agents import LlmAgent
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.models.base_llm import BaseLlm
from google.adk.runners import Runner
from google.adk.sessions import BaseSessionService, Session
from google.adk.telemetry import TelemetryConfig
from google.genai import types

from streaming_core.backends import requests_ahead
from streaming_core.errors import SessionStoreUnavailable, UnknownSession
from streaming_core.events import Done, DoneStatus, Queued, StreamError, StreamEvent, TextDelta
from streaming_core.failures import describe_failure
from streaming_core.inputs import check_session_id, clean_message
from streaming_core.metrics import Clock, StreamMetrics
from streaming_core.model_seam import add_model_seam
from streaming_core.normalize import EventNormalizer
from streaming_core.sessions import (
    TITLE_KEY,
    ChatMessage,
    ConversationInfo,
    keep_interrupted,
    messages_from_events,
    title_from_events,
    title_of,
)
from streaming_core.stores.locks import LocalLock, LockFactory, LockUnavailable
from streaming_core.turn_reader import TurnReader
from streaming_core.visitors import DEFAULT_USER

logger = logging.getLogger(__name__)

APP_NAME = "adk_streaming_lab"

# ADK 2.13's default, the experimental GenAI semconv, copies every partial response's text into the
# model call's span (quadratic in the chunks, all kept until the call ends); the stable one reports
# each response once. Set ADK_TELEMETRY_IGNORE_RUN_CONFIG to choose by OTEL_* variables instead.
TELEMETRY = TelemetryConfig(genai_semconv_stability_opt_in="stable")


def parse_mode(mode: StreamingMode | str) -> StreamingMode:
    if isinstance(mode, StreamingMode):
        return mode
    return {"sse": StreamingMode.SSE, "none": StreamingMode.NONE}[mode.lower()]


class Assistant:
    """An agent, its runner and its session store; create and use it on one event loop."""

    def __init__(
        self,
        agent: LlmAgent,
        session_service: BaseSessionService,
        *,
        app_name: str = APP_NAME,
        max_message_chars: int = 8000,
        clock: Clock = time.perf_counter,
        backend: str | None = None,
        locks: LockFactory = LocalLock,
        coalesce: bool = True,
    ) -> None:
        self.agent = agent
        self.backend = backend  # the registry name of the agent's model: failures name who failed
        self.locks = locks  # one turn at a time per conversation, in this process or across processes
        self.session_service = session_service
        self.app_name = app_name
        self.max_message_chars = max_message_chars
        self.clock = clock
        # Join text deltas that are ready while a turn's reader is behind (model_seam); off where
        # each chunk is shown as the model sent it.
        self.coalesce = coalesce
        if isinstance(agent.model, BaseLlm):
            add_model_seam(agent.model)
        self.runner = Runner(app_name=app_name, agent=agent, session_service=session_service)

    async def open_turn(self, message: str, *, session_id: str | None = None, user_id: str = DEFAULT_USER) -> Turn:
        """Validates input and finds or creates the session. Raises InvalidInput, UnknownSession."""
        text = clean_message(message, self.max_message_chars)
        if session_id is None:
            session = await self._create_session(user_id, text)
        else:
            session = await self._get_session(session_id, user_id)
        return Turn(self, session, text)

    async def stream_turn(
        self,
        message: str,
        *,
        session_id: str | None = None,
        user_id: str = DEFAULT_USER,
        mode: StreamingMode | str = StreamingMode.SSE,
        timeout_s: float | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        turn = await self.open_turn(message, session_id=session_id, user_id=user_id)
        async with aclosing(turn.events(mode=mode, timeout_s=timeout_s)) as events:
            async for event in events:
                yield event

    async def start_conversation(self, user_id: str = DEFAULT_USER, first_message: str | None = None) -> str:
        """A new conversation, titled after `first_message`; its id is unguessable (a random UUID)."""
        return (await self._create_session(user_id, first_message)).id

    async def history(self, session_id: str, user_id: str = DEFAULT_USER) -> list[ChatMessage]:
        """The conversation as people read it. A question whose turn is not running and has no
        answer (the process stopped mid-turn) is followed by an `unanswered` marker."""
        session = await self._get_session(session_id, user_id)
        answering = await self.locks((session.app_name, session.user_id, session.id)).busy()
        return messages_from_events(session.events, answering=answering)

    async def conversations(self, user_id: str = DEFAULT_USER) -> list[ConversationInfo]:
        """Newest first, with a title from the first user message."""
        listed = await self.session_service.list_sessions(app_name=self.app_name, user_id=user_id)
        infos = []
        for summary in listed.sessions:
            title = summary.state.get(TITLE_KEY)
            if not isinstance(title, str):  # created without a first message: read its events
                title = title_from_events((await self._get_session(summary.id, user_id)).events)
            infos.append(ConversationInfo(summary.id, title, summary.last_update_time))
        return sorted(infos, key=lambda info: info.updated, reverse=True)

    async def delete_conversation(self, session_id: str, user_id: str = DEFAULT_USER) -> None:
        await self._get_session(session_id, user_id)
        await self.session_service.delete_session(app_name=self.app_name, user_id=user_id, session_id=session_id)

    async def _create_session(self, user_id: str, first_message: str | None) -> Session:
        state = {} if first_message is None else {TITLE_KEY: title_of(first_message)}
        return await self.session_service.create_session(app_name=self.app_name, user_id=user_id, state=state)

    async def _get_session(self, session_id: str, user_id: str) -> Session:
        session = await self.session_service.get_session(
            app_name=self.app_name, user_id=user_id, session_id=check_session_id(session_id)
        )
        if session is None:
            raise UnknownSession(f"No conversation {session_id!r} for this user; start a new one.")
        return session


@dataclass
class Turn:
    """A validated message bound to its session, ready to stream once."""

    assistant: Assistant
    session: Session
    message: str
    # Tokens the model reported in this turn's final events (ADK saves exactly those), as they stream.
    reported_tokens: int = field(default=0, init=False)

    @property
    def session_id(self) -> str:
        return self.session.id

    async def events(
        self, *, mode: StreamingMode | str = StreamingMode.SSE, timeout_s: float | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        """One turn at a time per conversation: ADK appends to a session it read at the start of
        the run, so two overlapping turns (two tabs) would make one fail as stale. The wait and a
        busy single-request model are announced with Queued before any text."""
        # The time limit covers the wait for the conversation as well as the answer.
        deadline = None if timeout_s is None else asyncio.get_running_loop().time() + timeout_s
        lock = self.assistant.locks((self.session.app_name, self.session.user_id, self.session.id))
        try:
            if await lock.busy():
                yield Queued(
                    "conversation_busy",
                    "Another answer in this conversation (another tab or client) is still streaming; yours follows it.",
                    1,
                )
            async with asyncio.timeout_at(deadline):
                await lock.acquire()
        except TimeoutError:
            yield StreamError(
                "timeout", f"Timed out after {timeout_s:g} s waiting for the other answer in this conversation."
            )
            yield Done("timeout", "", StreamMetrics(self.assistant.clock).summary(), self.session.id)
            return
        except LockUnavailable as error:  # the lock's store (Redis) failed: nothing was asked yet
            yield StreamError("store", str(error), retryable=True)
            yield Done("error", "", StreamMetrics(self.assistant.clock).summary(), self.session.id)
            return
        try:
            if ahead := requests_ahead(self.assistant.agent.model):
                yield Queued(
                    "model_busy", f"The model is answering {ahead} other request(s) first; yours is queued.", ahead
                )
            async with aclosing(self._run(mode, timeout_s, deadline)) as events:
                async for event in events:
                    yield event
        finally:
            lock.release()

    async def _run(
        self, mode: StreamingMode | str, timeout_s: float | None, deadline: float | None
    ) -> AsyncGenerator[StreamEvent, None]:
        assistant = self.assistant
        agent_name = assistant.agent.name
        metrics = StreamMetrics(assistant.clock)
        normalizer = EventNormalizer()
        status: DoneStatus = "completed"
        invocation_id = ""
        adk_events = assistant.runner.run_async(
            user_id=self.session.user_id,
            session_id=self.session.id,
            new_message=types.Content(role="user", parts=[types.Part(text=self.message)]),
            run_config=RunConfig(streaming_mode=parse_mode(mode), telemetry=TELEMETRY),
        )
        try:
            async with aclosing(adk_events):
                with TurnReader(adk_events, deadline, coalesce=assistant.coalesce) as reader:
                    while True:
                        try:
                            adk_event = await reader.next()
                        except StopAsyncIteration:
                            break
                        invocation_id = adk_event.invocation_id or invocation_id
                        if not adk_event.partial and adk_event.usage_metadata and adk_event.author == agent_name:
                            self.reported_tokens += adk_event.usage_metadata.total_token_count or 0
                        for event in normalizer.feed(adk_event):
                            if isinstance(event, TextDelta):
                                metrics.record_chunk(len(event.text))
                            elif isinstance(event, StreamError):
                                status = "error"
                            yield event
            if normalizer.failure_event is not None:
                status = "error"
                yield normalizer.failure_event
        except TimeoutError:
            status = "timeout"
            await self.keep_partial(normalizer, "timeout", invocation_id)
            kept = "the partial answer is kept" if normalizer.text else "no answer had started"
            yield StreamError("timeout", f"Timed out after {timeout_s:g} s; {kept}.")
        except (asyncio.CancelledError, GeneratorExit):
            await self.keep_partial(normalizer, "stopped", invocation_id)
            raise
        except Exception as error:
            status = "error"
            await self.keep_partial(normalizer, "error", invocation_id)
            yield describe_failure(error, self.assistant.backend)
        yield Done(
            status=status,
            text=normalizer.text,
            metrics=metrics.summary(),
            session_id=self.session.id,
            matches_final=normalizer.matches_final,
            tool_calls=tuple(normalizer.tool_calls),
        )

    async def keep_partial(self, normalizer: EventNormalizer, reason: str, invocation_id: str) -> None:
        """Saves streamed text whose final event never came, marked as cut off, so it stays in
        the conversation (ADK persists only final events)."""
        text = normalizer.unconfirmed_text
        if not text:
            return
        session = (self.session.app_name, self.session.user_id, self.session.id)
        try:
            if not await keep_interrupted(
                self.assistant.session_service, session, self.assistant.agent.name, text, reason, invocation_id
            ):
                return
        except SessionStoreUnavailable:
            # The text was shown; losing it from memory must not turn a Stop into a crash.
            logger.warning("could not keep a %s answer in session %s", reason, self.session.id)
            return
        logger.info("kept %d characters of a %s answer in session %s", len(text), reason, self.session.id)
