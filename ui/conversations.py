"""The chat's conversations: the sidebar list (open, new, delete), history read back from the
ADK session, and one streamed turn."""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from streaming_core.errors import StreamingCoreError, UnknownSession
from streaming_core.events import StreamError
from streaming_core.metrics import StreamSummary
from streaming_core.runtime import AssistantConfig
from streaming_core.sessions import ChatMessage, ConversationInfo
from streaming_core.sync_api import call_assistant
from ui.inputs import return_draft
from ui.metrics import metrics_strip
from ui.outcome import show_stream_error
from ui.streaming import stream_answer
from ui.visitor import visitor_id

SESSION_KEY = "chat_session_id"
_LAST_TURN_KEY = "chat_last_turn"
INTERRUPTED_LABELS = {
    "stopped": ":material/stop_circle: Stopped: this is the partial answer.",
    "timeout": ":material/timer_off: Timed out: this is the partial answer.",
    "error": ":material/error: The model failed: this is the partial answer.",
    "unanswered": ":material/report: No answer: the turn ended before the model replied (Stop before the "
    "first chunk, or the server restarted mid-turn). Ask again.",
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>:$])")


@dataclass(frozen=True, slots=True)
class TurnReport:
    """What the last turn measured, shown under the history after the run that reloads it."""

    session_id: str
    errors: tuple[StreamError, ...]
    summary: StreamSummary | None
    partial: bool


def escape_markdown(text: str) -> str:
    """For user text in labels that render markdown (buttons): shown literally."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def conversation_sidebar(config: AssistantConfig, slot: DeltaGenerator | None = None) -> str | None:
    """Lists conversations newest first in `slot` (default: the end of the sidebar); returns the
    open one's session id (None: a new chat)."""
    user = visitor_id()  # here: the lambdas run on the loop thread, outside Streamlit's context
    infos: list[ConversationInfo] = call_assistant(config, lambda a: a.conversations(user))
    current = st.session_state.get(SESSION_KEY)
    if current not in {info.session_id for info in infos}:
        current = st.session_state[SESSION_KEY] = None
    with slot if slot is not None else st.sidebar:
        st.header("Conversations")
        st.button("New chat", key="chat_new", icon=":material/add:", on_click=_open, args=(None,), width="stretch")
        listing = st.container(height=280, border=False) if len(infos) > 6 else st.container()
        for info in infos:
            listing.button(
                escape_markdown(info.title),
                key=f"chat_open_{info.session_id}",
                type="primary" if info.session_id == current else "secondary",
                on_click=_open,
                args=(info.session_id,),
                width="stretch",
            )
        if current is not None:
            st.button(
                "Delete this conversation",
                key="chat_delete",
                icon=":material/delete:",
                on_click=_delete,
                args=(config, current),
            )
        st.divider()
    return current


def show_history(config: AssistantConfig, session_id: str | None) -> None:
    if session_id is None:
        st.caption("A new conversation: it is saved in an ADK session (SQLite) and survives a restart.")
        return
    user = visitor_id()
    try:
        messages: list[ChatMessage] = call_assistant(config, lambda a: a.history(session_id, user))
    except UnknownSession:
        st.session_state[SESSION_KEY] = None
        return
    for message in messages:
        with st.chat_message(message.role):
            if message.text:
                st.markdown(message.text)
            if message.interrupted:
                st.caption(INTERRUPTED_LABELS.get(message.interrupted, message.interrupted))


def chat_turn(prompt: str, config: AssistantConfig, *, mode: str, session_id: str | None, input_key: str) -> None:
    """Streams one answer, then reruns so the page shows the conversation as the session holds it."""
    user = visitor_id()
    started = session_id is None
    try:
        session_id = session_id or call_assistant(config, lambda a: a.start_conversation(user, prompt))
    except StreamingCoreError as error:
        return_draft(input_key, prompt, str(error))
    # Before streaming: a Stop ends the run, and then no Streamlit call works any more.
    st.session_state[SESSION_KEY] = session_id
    st.session_state[_LAST_TURN_KEY] = None
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        outcome = stream_answer(prompt, config, mode=mode, session_id=session_id, user_id=user)
    if outcome.refusal is not None:  # over a quota: no empty conversation left behind, the text given back
        if started:
            _delete(config, session_id)
        return_draft(input_key, prompt, f"{outcome.refusal} Your message is back in the box below.")
    if outcome.problem is not None:  # nothing reached the session: give the text back
        return_draft(input_key, prompt, outcome.problem)
    summary = outcome.done.metrics if outcome.done else None
    st.session_state[_LAST_TURN_KEY] = TurnReport(session_id, tuple(outcome.errors), summary, bool(outcome.text))
    st.rerun()


def show_last_turn(session_id: str | None) -> None:
    report: TurnReport | None = st.session_state.get(_LAST_TURN_KEY)
    if report is None or report.session_id != session_id:
        return
    for error in report.errors:
        show_stream_error(error, partial=report.partial)
    if report.summary is not None:
        with st.expander("Metrics of the last answer", expanded=True):
            metrics_strip(report.summary)


def _open(session_id: str | None) -> None:
    st.session_state[SESSION_KEY] = session_id


def _delete(config: AssistantConfig, session_id: str) -> None:
    user = visitor_id()
    with suppress(UnknownSession):  # already gone, e.g. deleted in another tab
        call_assistant(config, lambda a: a.delete_conversation(session_id, user))
    st.session_state[SESSION_KEY] = None
