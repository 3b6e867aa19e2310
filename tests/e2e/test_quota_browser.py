"""Visitor quotas in headless Chromium against `streamlit run app.py` with one turn a minute:
the refusal says how long to wait and the typed text survives; /api/metrics on the same port counts
the pages' turns and refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streaming_core.testing.streamlit_browser import Browser, new_tab
from streaming_core.testing.streamlit_server import StreamlitServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def one_turn_a_minute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    with StreamlitServer(tmp_path_factory.mktemp("quota"), {"QUOTA_TURNS_PER_MINUTE": "1"}) as server:
        yield server


@pytest.fixture
def tab(chromium: Any, one_turn_a_minute: StreamlitServer) -> Iterator[Browser]:
    with new_tab(chromium, one_turn_a_minute) as browser:
        yield browser


def submit(tab: Browser, text: str) -> None:
    tab.wait_until_idle()
    tab.page.get_by_label("Prompt").fill(text)
    tab.run_after(lambda: tab.page.get_by_role("button", name="Run").click())


def test_a_page_over_the_rate_shows_the_wait_and_keeps_the_prompt(tab: Browser) -> None:
    tab.open("progress")
    submit(tab, "First question")
    tab.page.get_by_text("You asked: First question").wait_for()

    submit(tab, "Second question, kept")

    warning = tab.page.get_by_test_id("stAlert").filter(has_text="Try again in")
    warning.wait_for()
    assert "still in the box" in warning.inner_text()
    assert tab.page.get_by_label("Prompt").input_value() == "Second question, kept"
    assert tab.page.get_by_text("You asked: Second question").count() == 0


def test_the_chat_over_the_rate_puts_the_message_back_in_the_box(tab: Browser) -> None:
    tab.open("progress")
    submit(tab, "Spend this minute's turn")
    tab.page.get_by_text("You asked: Spend this").wait_for()
    tab.open("chat")

    tab.run_after(lambda: tab.chat("Refused, not lost"))

    tab.page.get_by_test_id("stAlert").filter(has_text="Try again in").wait_for()
    assert tab.page.get_by_test_id("stChatInputTextArea").input_value() == "Refused, not lost"


def test_metrics_on_the_streamlit_port_count_the_pages_turns_and_refusals(tab: Browser) -> None:
    tab.open("progress")
    submit(tab, "Counted")
    submit(tab, "Refused and counted")
    tab.page.get_by_test_id("stAlert").filter(has_text="Try again in").wait_for()

    scraped = httpx.get(f"{tab.server.url}/api/metrics", timeout=10)
    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }

    assert scraped.status_code == 200
    assert values[("adk_turns_started_total", (("backend", "scripted"),))] >= 1
    assert values[("adk_quota_refusals_total", (("limit", "turns_per_minute"),))] >= 1


@pytest.fixture(scope="module")
def one_answer_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    with StreamlitServer(tmp_path_factory.mktemp("concurrent"), {"QUOTA_CONCURRENT_TURNS": "1"}) as server:
        yield server


def test_a_second_tab_waits_for_the_first_answer_then_its_next_turn_is_let_in(
    chromium: Any, one_answer_at_a_time: StreamlitServer
) -> None:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})  # two tabs, one visitor cookie
    try:
        first = Browser(context.new_page(), one_answer_at_a_time)
        first.open("chat")
        second = Browser(context.new_page(), one_answer_at_a_time)
        second.open("progress")
        first.set_number("Between chunks (s)", 0.1)  # about 4 s of answer
        first.chat("A long answer")
        first.page.get_by_test_id("stChatMessage").last.get_by_text("You asked: A long answer").wait_for()

        submit(second, "While the other tab streams")
        refusal = second.page.get_by_test_id("stAlert").filter(has_text="1 answer(s) streaming")
        refusal.wait_for()
        first.page.get_by_text("Metrics of the last answer").wait_for(timeout=60_000)  # the first answer ended
        submit(second, "Now my turn")

        second.page.get_by_text("You asked: Now my turn").wait_for()
        assert second.page.get_by_text("1 answer(s) streaming").count() == 0
    finally:
        context.close()
