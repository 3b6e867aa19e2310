"""Bad input on the Streamlit core path (`stream_turn_sync`): each is a specific error the page shows
inline, raised before the model is called, and nothing of another user's conversation leaks."""

from __future__ import annotations

import pytest

from streaming_core.backends.scripted import ScriptedReply
from streaming_core.errors import ConfigurationError, InvalidInput, StreamingCoreError, UnknownBackend, UnknownSession
from streaming_core.events import Done, Heartbeat
from streaming_core.runtime import AssistantConfig
from streaming_core.sync_api import stream_turn_sync
from tests.app.apptest import script_log

CONFIG = AssistantConfig(backend="scripted", persistent=False, script=(ScriptedReply(text="reliability: ok"),))
# Built only by the settings cases, which fail, so it is never cached with valid settings.
UNBUILT = AssistantConfig(backend="scripted", persistent=False, script=(ScriptedReply(text="never built"),))

BAD_INPUT: list[tuple[str, str, str | None, type[StreamingCoreError], str]] = [
    ("empty", "", None, InvalidInput, "The message is empty"),
    ("whitespace", " \t\n\r ", None, InvalidInput, "The message is empty"),
    ("1 MB", "x" * 1_000_000, None, InvalidInput, "the limit is 8,000"),
    ("NUL bytes", "a\x00b", None, InvalidInput, "NUL bytes"),
    ("malformed session id", "hi", "../../etc/passwd", InvalidInput, "Malformed session id"),
    ("unknown session id", "hi", "no-such-conversation", UnknownSession, "No conversation"),
]


def ask(message: str, config: AssistantConfig = CONFIG, session_id: str | None = None, user: str = "alice") -> Done:
    stream = stream_turn_sync(message, config, session_id=session_id, user_id=user)
    done = [event for event in stream if not isinstance(event, Heartbeat)][-1]
    assert isinstance(done, Done)
    return done


@pytest.mark.parametrize(("name", "message", "session_id", "error", "says"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_a_specific_error_before_the_model_is_called(
    name: str, message: str, session_id: str | None, error: type[StreamingCoreError], says: str
) -> None:
    ask("warm up")  # the assistant exists, so the count below is the model's
    started = script_log(CONFIG).started

    with pytest.raises(error, match=says) as raised:
        ask(message, session_id=session_id)

    assert "Traceback" not in str(raised.value)
    assert script_log(CONFIG).started == started


def test_another_users_session_id_looks_unknown_and_shows_nothing_of_it() -> None:
    private = ask("my secret is 4711")

    with pytest.raises(UnknownSession) as raised:
        ask("what was the secret?", session_id=private.session_id, user="mallory")

    assert "4711" not in str(raised.value)
    assert ask("still mine?", session_id=private.session_id).status == "completed"


def test_control_characters_are_stripped_before_the_model_sees_the_message() -> None:
    ask("a\x07b\x1b[31mc\x7fd\te")

    sent = script_log(CONFIG).requests[-1].contents[-1]
    assert [part.text for part in sent.parts or []] == ["ab[31mcd\te"]


@pytest.mark.parametrize(
    ("variable", "value", "error", "says"),
    [
        ("STREAMING_BACKEND", "gpt", ConfigurationError, "STREAMING_BACKEND='gpt' is not a backend"),
        ("TEMPERATURE", "hot", ConfigurationError, "TEMPERATURE='hot' is not a number"),
        ("MAX_OUTPUT_TOKENS", "-5", ConfigurationError, "MAX_OUTPUT_TOKENS=-5 is out of range"),
        ("MAX_MESSAGE_CHARS", "1e9", ConfigurationError, "MAX_MESSAGE_CHARS='1e9' is not a number"),
    ],
)
def test_invalid_settings_stop_the_turn_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, error: type[Exception], says: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(error, match=says):
        ask("hi", UNBUILT)


def test_an_unknown_backend_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownBackend, match="auto, gemini, local, scripted"):
        ask("hi", AssistantConfig(backend="gpt-9", persistent=False))
