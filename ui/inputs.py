"""Prompt widgets with the demo's input rules: blank input is ignored; an over-long message gets
an inline error and stays where the user typed it, so nothing is lost."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from streaming_core.errors import InvalidInput
from streaming_core.inputs import clean_message


def validate(text: str | None, max_chars: int) -> tuple[str | None, str | None]:
    """(message to send, error to show); blank input is neither."""
    if text is None or not text.strip():
        return None, None
    try:
        return clean_message(text, max_chars), None
    except InvalidInput as error:
        return None, str(error)


def prompt_form(key: str, default: str, max_chars: int, *, label: str = "Prompt", button: str = "Run") -> str | None:
    """A text area and a Run button; returns the message when submitted and valid."""
    with st.form(key, border=False):
        text = st.text_area(label, value=default, key=f"{key}_text", height=100)
        submitted = st.form_submit_button(button, type="primary", icon=":material/play_arrow:")
    if not submitted:
        return None
    message, error = validate(text, max_chars)
    if error:
        st.error(f"{error} Your text is still in the box above.", icon=":material/edit_note:")
    return message


def choice_form(key: str, options: tuple[str, ...], *, label: str, button: str = "Ask") -> str | None:
    """A fixed set of prompts (for scripted demos); returns the chosen one when submitted."""
    with st.form(key, border=False):
        choice = st.selectbox(label, options, key=f"{key}_choice")
        submitted = st.form_submit_button(button, type="primary", icon=":material/play_arrow:")
    return choice if submitted else None


def chat_prompt(key: str, max_chars: int, *, placeholder: str = "Ask something") -> str | None:
    """st.chat_input whose send button turns into Stop while the answer streams."""
    draft_key, error_key = f"{key}_draft", f"{key}_error"
    if (draft := st.session_state.pop(draft_key, None)) is not None:
        st.session_state[key] = draft  # back into the box: allowed before the widget exists
    if (error := st.session_state.pop(error_key, None)) is not None:
        st.error(error, icon=":material/edit_note:")
    text = st.chat_input(placeholder, key=key, submit_mode="stop")
    message, error = validate(text, max_chars)
    if error:
        return_draft(key, text or "", f"{error} Your message is back in the box below.")
    return message


def return_draft(key: str, text: str, error: str) -> NoReturn:
    """Puts `text` back into chat input `key` with an error above it, on a fresh run."""
    st.session_state[f"{key}_draft"] = text
    st.session_state[f"{key}_error"] = error
    st.rerun()


def retry_button(key: str, message: str) -> None:
    """A Retry button that sends `message` again on the next run (see retry_requested)."""
    st.button(
        "Retry", key=f"{key}_retry_button", icon=":material/refresh:", on_click=_request_retry, args=(key, message)
    )


def retry_requested(key: str) -> str | None:
    """The message to send again, once, if Retry was clicked."""
    return st.session_state.pop(f"{key}_retry", None)


def _request_retry(key: str, message: str) -> None:
    st.session_state[f"{key}_retry"] = message
