"""Visitor quotas on the pages under AppTest: the refusal says how long to wait, the typed text
stays in the box, and the next turn is let in once the wait is over (an injected clock, no sleeps)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from streaming_core.quotas import MemoryQuotaStore, QuotaLimiter, QuotaLimits, install_limiter
from tests.app.apptest import APP, Page, script_log
from tests.app.test_chat_page import CHAT, messages, send

PROGRESS = "pages/4_progress.py"  # counts the model's own chunks: its turns run with coalescing off
NOON = 20_000 * 86_400.0 + 43_200.0


class Clock:
    now = NOON

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Iterator[Clock]:
    """One turn a minute for every visitor of this process, on a clock the test moves."""
    clock = Clock()
    install_limiter(QuotaLimiter(QuotaLimits(turns_per_minute=1), MemoryQuotaStore(), clock=clock))
    yield clock


def test_a_page_over_the_rate_says_how_long_to_wait_keeps_the_text_and_lets_the_next_turn_in(clock: Clock) -> None:
    page = Page(PROGRESS)
    page.submit("First question")
    started = script_log(page.config(coalesce=False)).started

    refused = page.submit("Second question, kept")
    warning = [w.value for w in refused.warning]
    kept = refused.text_area[0].value
    started_after_refusal = script_log(page.config(coalesce=False)).started
    clock.now += 60
    page.submit()

    assert any("Try again in 60 s" in text and "still in the box" in text for text in warning)
    assert kept == "Second question, kept"
    assert started_after_refusal == started  # the model never saw the refused turn
    assert script_log(page.config(coalesce=False)).started == started + 1
    assert not [w for w in page.at.warning if "Try again" in w.value]


def test_the_chat_over_the_rate_gives_the_message_back_without_an_empty_conversation(clock: Clock) -> None:
    page = Page(CHAT)
    send(page, "First message")
    before = messages(page)
    page.at.session_state["chat_session_id"] = None  # a new chat: its first turn would create a conversation
    page.at.run()

    send(page, "Refused, but not lost")

    assert "Try again in 60 s" in page.at.error[0].value
    assert page.at.get("chat_input")[0].proto.value == "Refused, but not lost"
    assert page.at.session_state["chat_session_id"] is None
    assert len([b for b in page.at.sidebar.button if b.key.startswith("chat_open_")]) == 1
    assert before[0][1] == "First message"


def test_visitors_have_quotas_of_their_own(clock: Clock) -> None:
    first, second = Page(PROGRESS), Page(PROGRESS)  # no cookie under AppTest: a visitor id per session
    first.submit("Mine")

    second.submit("Theirs")

    assert not [w for w in second.at.warning if "Try again" in w.value]


@pytest.mark.parametrize(("name", "value"), [("QUOTA_TURNS_PER_MINUTE", "lots"), ("GEMINI_DAILY_TOKEN_BUDGET", "-5")])
def test_a_bad_quota_setting_stops_the_page_with_a_message_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(APP), default_timeout=30)

    at.run()

    assert not at.exception
    assert name in at.error[0].value
