"""Every Gemini fault in the fault table, on both paths: a specific message, the partial answer kept,
the session still usable, retries only before the first chunk, no traceback and no API key anywhere."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from streaming_core.testing.fake_gemini import SENTINEL_KEY, FakeGeminiServer
from streaming_core.testing.faults import FAULTS, PROMPT, Fault, answer_problems, problems
from streaming_core.testing.paths import PATHS, ask_core, observe, open_path


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_fault_ends_with_its_message_keeps_the_partial_answer_and_the_session(
    gemini: FakeGeminiServer,
    sessions: Path,
    fault: Fault,
    path: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # every library's log lines, to search for the key

    with open_path(path, fault.timeout_s, sessions) as ask:
        seen = observe(fault, gemini, ask)

    assert problems(fault, seen, SENTINEL_KEY) == []
    printed = "".join(capfd.readouterr())
    stored = b"".join(file.read_bytes() for file in sessions.iterdir())
    assert SENTINEL_KEY not in caplog.text + printed
    assert SENTINEL_KEY.encode() not in stored
    assert gemini.requests[-1].api_key == SENTINEL_KEY  # the key was in use, so the searches mean something


def test_an_empty_answer_without_streaming_is_the_same_clear_error(gemini: FakeGeminiServer) -> None:
    """ADK flags an empty STOP answer itself in NONE mode, with a message about finish reasons."""
    empty = next(fault for fault in FAULTS if fault.name == "empty candidate")
    gemini.clear()
    gemini.enqueue(*empty.scenarios)

    answer = ask_core(empty.timeout_s, mode="none")(PROMPT, None)

    assert answer_problems(empty, answer, SENTINEL_KEY) == []
