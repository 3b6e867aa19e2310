"""ADK session services (SQLite by default) and the conversation views the pages and API need."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.adk.errors import StaleSessionError
from google.adk.events.event import Event
from google.adk.sessions import BaseSessionService, InMemorySessionService, Session
from google.genai import types

from streaming_core.sqlite_sessions import FastSqliteSessionService

INTERRUPTED_KEY = "interrupted"  # custom_metadata key on a partial answer saved by us
# Session state key of the title: list_sessions returns state but no events, so the conversation
# list needs no per-conversation read of every event.
TITLE_KEY = "conversation_title"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "user" or "assistant"
    text: str
    # "stopped", "error" or "timeout" for a cut-off answer; "unanswered" marks the missing
    # answer of a turn that ended with the process (a restart or crash mid-turn)
    interrupted: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    session_id: str
    title: str
    updated: float


def create_session_service(db_path: Path | None) -> BaseSessionService:
    """SQLite at `db_path` so conversations survive a restart; in memory (bounded) when None."""
    if db_path is None:
        return BoundedInMemorySessionService()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    return FastSqliteSessionService(str(db_path))


class BoundedInMemorySessionService(InMemorySessionService):
    """In-memory sessions (one-shot pages, tests), at most `max_sessions`, the oldest dropped
    first: every one-shot turn opens a session, and a long-running demo must not keep them all."""

    def __init__(self, max_sessions: int = 1000) -> None:
        super().__init__()
        self.max_sessions = max_sessions
        self._created: deque[tuple[str, str, str]] = deque()

    async def create_session(self, **kwargs: Any) -> Session:
        session = await super().create_session(**kwargs)
        self._created.append((session.app_name, session.user_id, session.id))
        while len(self._created) > self.max_sessions:
            app_name, user_id, session_id = self._created.popleft()
            await self.delete_session(app_name=app_name, user_id=user_id, session_id=session_id)
        return session


async def keep_interrupted(
    service: BaseSessionService,
    session: tuple[str, str, str],
    author: str,
    text: str,
    reason: str,
    invocation_id: str = "",
) -> bool:
    """Saves streamed text whose final event never came into the conversation (app name, user,
    session id), marked as cut off for `reason` (ADK persists only final events). False if the
    conversation is gone, e.g. deleted meanwhile from another tab."""
    app_name, user_id, session_id = session
    stored = await service.get_session(app_name=app_name, user_id=user_id, session_id=session_id)
    if stored is None:
        return False
    event = Event(
        author=author,
        invocation_id=invocation_id or Event.new_id(),
        content=types.Content(role="model", parts=[types.Part(text=text)]),
        custom_metadata={INTERRUPTED_KEY: reason},
    )
    try:
        await service.append_event(stored, event)
    except StaleSessionError:
        # ADK saved the final answer meanwhile (the stream broke after the model finished): the
        # text is in the conversation already.
        return False
    return True


UNANSWERED = ChatMessage(role="assistant", text="", interrupted="unanswered")


def messages_from_events(events: list[Event], *, answering: bool = False) -> list[ChatMessage]:
    """The visible conversation: user texts and final model texts, partial events skipped.

    ADK saves the question before the model runs, so a process that stopped mid-turn leaves a
    question with no answer; it gets an UNANSWERED marker unless `answering` (its turn is still
    running) says the answer is on its way.
    """
    messages: list[ChatMessage] = []
    for event in events:
        if event.partial or event.content is None:
            continue
        text = "".join(p.text for p in event.content.parts or [] if p.text and not p.thought)
        if not text:
            continue
        role = "user" if event.author == "user" else "assistant"
        if role == "user" and messages and messages[-1].role == "user":
            messages.append(UNANSWERED)
        interrupted = (event.custom_metadata or {}).get(INTERRUPTED_KEY)
        messages.append(ChatMessage(role=role, text=text, interrupted=interrupted))
    if messages and messages[-1].role == "user" and not answering:
        messages.append(UNANSWERED)
    return messages


def title_of(message: str, limit: int = 48) -> str:
    """A conversation's title: the first line of its first message, cut to `limit` characters."""
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    return first_line[:limit] + ("…" if len(first_line) > limit else "")


def title_from_events(events: list[Event]) -> str:
    for message in messages_from_events(events):
        if message.role == "user":
            return title_of(message.text)
    return "New conversation"
