"""Validation of what users send: messages and session ids. Fails with InvalidInput."""

from __future__ import annotations

import re

from streaming_core.errors import InvalidInput

# C0 controls other than tab, newline and carriage return garble markdown and logs.
_CONTROL_CHARS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def clean_message(text: object, max_chars: int) -> str:
    """The message to send, or InvalidInput saying what to change."""
    if not isinstance(text, str):
        raise InvalidInput("The message must be text.")
    if "\x00" in text:
        raise InvalidInput("The message contains NUL bytes; remove them and send it again.")
    if not text.strip():
        raise InvalidInput("The message is empty; type something first.")
    if len(text) > max_chars:
        raise InvalidInput(
            f"The message is {len(text):,} characters; the limit is {max_chars:,}. Shorten it and send it again."
        )
    return _CONTROL_CHARS.sub("", text)


def check_session_id(session_id: str) -> str:
    if not _SESSION_ID.fullmatch(session_id):
        raise InvalidInput("Malformed session id: use letters, digits, '-' or '_' (at most 128).")
    return session_id
