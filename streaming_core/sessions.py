"""ADK session services (SQLite by default) and the conversation views the pages and API need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.adk.events.event import Event
from google.adk.sessions import BaseSessionService, InMemorySessionService
from google.adk.sessions.sqlite_session_service import SqliteSessionService

INTERRUPTED_KEY = "interrupted"  # custom_metadata key on a partial answer saved by us


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
    """SQLite at `db_path` so conversations survive a restart; in memory when None."""
    if db_path is None:
        return InMemorySessionService()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteSessionService(str(db_path))


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


def title_from_events(events: list[Event], limit: int = 48) -> str:
    for message in messages_from_events(events):
        if message.role == "user":
            first_line = message.text.strip().splitlines()[0] if message.text.strip() else ""
            return first_line[:limit] + ("…" if len(first_line) > limit else "")
    return "New conversation"
