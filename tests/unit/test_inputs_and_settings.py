"""Input validation and settings parsing: every bad value gets a clear error."""

from __future__ import annotations

import pytest
from google.adk.errors import StaleSessionError

from streaming_core.backends import resolve_backend
from streaming_core.errors import BackendUnavailable, ConfigurationError, InvalidInput, UnknownBackend
from streaming_core.failures import describe_failure
from streaming_core.inputs import check_session_id, clean_message
from streaming_core.settings import load_settings


@pytest.mark.parametrize("message", ["", "   ", "\n\t "])
def test_empty_messages_are_rejected(message: str) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        clean_message(message, 100)


def test_message_over_the_limit_names_the_limit() -> None:
    with pytest.raises(InvalidInput, match="limit is 8,000"):
        clean_message("x" * 8001, 8000)


def test_nul_bytes_are_rejected_and_other_controls_stripped() -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        clean_message("a\x00b", 100)
    assert clean_message("a\x07b\tc\nd", 100) == "ab\tc\nd"


@pytest.mark.parametrize("session_id", ["", "../etc", "a" * 129, "id with space"])
def test_malformed_session_ids_are_rejected(session_id: str) -> None:
    with pytest.raises(InvalidInput, match="session id"):
        check_session_id(session_id)


def test_auto_picks_local_without_a_key_and_says_why() -> None:
    choice = resolve_backend("auto", load_settings({}))

    assert (choice.name, choice.reason) == ("local", "no API key: using local Gemma 3 270M")


def test_auto_picks_gemini_with_a_key() -> None:
    assert resolve_backend("auto", load_settings({"GOOGLE_API_KEY": "k"})).name == "gemini"


def test_gemini_without_a_key_says_what_to_set() -> None:
    with pytest.raises(BackendUnavailable, match="GOOGLE_API_KEY"):
        resolve_backend("gemini", load_settings({}))


def test_unknown_backend_lists_the_valid_names() -> None:
    with pytest.raises(UnknownBackend, match="auto, gemini, local, scripted"):
        resolve_backend("gpt", load_settings({}))
    with pytest.raises(ConfigurationError, match="STREAMING_BACKEND"):
        load_settings({"STREAMING_BACKEND": "gpt"})


def test_unknown_stream_rendering_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"STREAM_RENDERING='lines'.*blocks, whole"):
        load_settings({"STREAM_RENDERING": "lines"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TEMPERATURE", "hot", "not a number"),
        ("TEMPERATURE", "5", "out of range"),
        ("MAX_OUTPUT_TOKENS", "0", "out of range"),
        ("MAX_MESSAGE_CHARS", "inf", "not a number"),
        ("STREAM_UPDATE_INTERVAL_S", "fast", "not a number"),
        ("STREAM_UPDATE_INTERVAL_S", "-1", "out of range"),
        ("STREAM_UPDATE_INTERVAL_S", "nan", "out of range"),
        ("TURN_TIMEOUT_SECONDS", "0", "out of range"),
    ],
)
def test_invalid_numbers_in_settings_fail_clearly(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({name: value})


def test_a_conversation_written_elsewhere_meanwhile_is_a_clear_conflict() -> None:
    error = describe_failure(StaleSessionError("The last_update_time provided in the session object is earlier"))

    assert error.code == "conflict" and "another tab or client" in error.message and error.retryable
