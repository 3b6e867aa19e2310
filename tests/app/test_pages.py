"""Every page under AppTest on the scripted backend: renders, streams, shows each answer once."""

from __future__ import annotations

import pytest

from streaming_core.backends import BACKENDS
from streaming_core.backends.scripted import DEFAULT_TEXT
from tests.app.apptest import PAGES, Page, script_log
from ui.sidebar import backend_option

QUESTION = "Explain streaming"
ANSWER_START = f"You asked: {QUESTION}"


@pytest.mark.parametrize("path", [None, *PAGES])
def test_page_renders_without_exception(path: str | None) -> None:
    page = Page(path)

    assert not page.at.exception
    assert page.at.title


def test_sidebar_says_why_auto_picked_the_backend() -> None:
    page = Page(None)

    page.at.sidebar.radio(key="backend").set_value("auto").run()

    captions = [caption.value for caption in page.at.sidebar.caption]
    assert any("no API key: using local Gemma 3 270M" in caption for caption in captions)
    assert any("of the evaluation" in caption and "cannot call tools" in caption for caption in captions)


def test_sidebar_does_not_pick_gemini_when_vertexai_is_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: with GOOGLE_GENAI_USE_VERTEXAI=false and no key the sidebar said it used Gemini."""
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "false")
    page = Page(None)

    page.at.sidebar.radio(key="backend").set_value("auto").run()

    captions = [caption.value for caption in page.at.sidebar.caption]
    assert any("no API key: using local Gemma 3 270M" in caption for caption in captions)


def test_sidebar_offers_the_registry_backends_by_label() -> None:
    radio = Page(None).at.sidebar.radio(key="backend")

    assert radio.options == ["Auto", *(backend_option(name) for name in BACKENDS)]
    assert backend_option("scripted") == "Scripted model"


def test_sidebar_explains_what_gemini_needs_without_a_key() -> None:
    page = Page(None)

    page.at.sidebar.radio(key="backend").set_value("gemini").run()

    assert "GOOGLE_API_KEY" in page.at.sidebar.warning[0].value


def test_basic_page_streams_sse_and_none_each_once_with_metrics() -> None:
    page = Page("pages/1_basic_streaming.py")

    page.submit(QUESTION)

    assert not page.at.exception
    assert len(page.markdown_containing(ANSWER_START)) == 2  # one answer per mode
    assert [metric.label for metric in page.at.metric].count("Time to first chunk") == 2
    assert "with SSE" in page.at.info[0].value


def test_basic_page_rejects_an_overlong_prompt_and_keeps_the_text() -> None:
    page = Page("pages/1_basic_streaming.py")
    log_before = script_log(page.config()).started
    too_long = "x" * 8001

    page.submit(too_long)

    assert "the limit is 8,000" in page.at.error[0].value
    assert page.at.text_area[0].value == too_long
    assert script_log(page.config()).started == log_before


def test_basic_page_ignores_a_blank_prompt() -> None:
    page = Page("pages/1_basic_streaming.py")

    page.submit("   \n ")

    assert not page.at.error
    assert not page.markdown_containing("You asked")


def test_aggregation_page_shows_text_chunk_table_and_final_event_check() -> None:
    page = Page("pages/3_aggregation.py")

    page.submit(QUESTION)

    assert len(page.markdown_containing(ANSWER_START)) == 1
    assert "joined chunks equal ADK's final aggregated event" in page.at.success[0].value
    table = page.at.dataframe[0].value
    answer = page.markdown_containing(ANSWER_START)[0]
    assert list(table.columns) == ["index", "size (chars)", "arrival (ms)"]
    assert table["size (chars)"].sum() == len(answer)
    # One row per chunk the model sent, even from a model that never waits (no coalescing here).
    chunk_size = page.config(coalesce=False).script[0].chunk_size
    assert list(table["size (chars)"]) == [len(answer[i : i + chunk_size]) for i in range(0, len(answer), chunk_size)]


def test_progress_page_counts_every_chunk_of_the_answer() -> None:
    page = Page("pages/4_progress.py")

    page.submit(QUESTION)

    answer = DEFAULT_TEXT.replace("{message}", QUESTION)
    assert page.markdown_containing(ANSWER_START) == [ANSWER_START]  # its first block, once
    metrics = {metric.label: metric.value for metric in page.at.metric}
    assert metrics["Characters"] == f"{len(answer):,}"
    assert len(page.at.get("vega_lite_chart")) == 2  # the live rate chart and the gap chart


def test_multi_output_page_reports_the_broken_output_and_keeps_the_others() -> None:
    page = Page("pages/5_multi_output.py")

    page.submit(QUESTION)

    assert len(page.markdown_containing(ANSWER_START)) == 1
    assert "broken output" in page.at.warning[0].value
    event_log = next(block for block in page.at.code if block.language == "json").value.splitlines()
    assert '"kind": "done"' in event_log[-1] and '"status": "completed"' in event_log[-1]
    assert [button.proto.label for button in page.at.get("download_button")] == [
        "Download transcript",
        "Download event log (JSON lines)",
    ]


def test_timeout_page_keeps_partial_text_and_cancels_the_model() -> None:
    page = Page("pages/6_timeout.py", chunk_delay=0.1)
    page.at.slider[0].set_value(0.5)

    page.submit(QUESTION)

    assert "Timed out after 0.5 s" in page.at.warning[0].value
    partial = page.markdown_containing("You asked")
    assert len(partial) == 1 and 0 < len(partial[0]) < len(ANSWER_START) + 200
    assert any("model call was cancelled" in caption.value for caption in page.at.caption)


def test_timeout_page_reports_success_within_the_limit() -> None:
    page = Page("pages/6_timeout.py")

    page.submit(QUESTION)

    assert not page.at.warning
    assert "within the 1 s limit" in page.at.success[0].value


def test_tools_page_shows_the_call_as_a_status_between_text() -> None:
    page = Page("pages/7_tools.py")

    page.submit()  # the first example: the time in Tokyo

    status = page.at.status[0]
    assert status.label.startswith("`get_current_time` →")
    assert status.state == "complete"
    answer = page.markdown_containing("The tool returned")
    assert len(answer) == 1 and '"timezone": "Asia/Tokyo"' in answer[0]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("before_first_chunk", "failed after 0 chunks"),
        ("mid_stream", "The partial answer above is kept"),
        ("quota", "HTTP 429"),
    ],
)
def test_errors_page_shows_a_clear_message_for_each_fault(fault: str, expected: str) -> None:
    page = Page("pages/8_errors.py")
    page.at.main.radio[0].set_value(fault)

    page.submit(QUESTION)

    assert not page.at.exception
    assert expected in page.at.error[0].value
    assert page.at.button(key="errors_retry_button")


def test_errors_page_hang_ends_at_the_limit_with_the_partial_text() -> None:
    page = Page("pages/8_errors.py")
    page.at.main.radio[0].set_value("hang")
    page.at.main.slider[0].set_value(0.5)

    page.submit(QUESTION)

    assert "Timed out after 0.5 s" in page.at.warning[0].value
    assert page.markdown_containing("You asked")


def test_errors_page_retry_sends_the_message_again() -> None:
    page = Page("pages/8_errors.py")
    page.submit(QUESTION)

    page.at.button(key="errors_retry_button").click().run()

    assert "retry went through" in page.at.success[0].value
    assert len(page.markdown_containing(ANSWER_START)) == 1


def test_sse_api_page_explains_curl_eventsource_and_the_xss_hole() -> None:
    page = Page("pages/9_sse_api.py")

    code = "\n".join(block.value for block in page.at.code)
    text = "\n".join(block.value for block in page.at.markdown)
    assert "curl -N" in code and "source.close()" in code and "textContent" in code
    assert "innerHTML += data.text` is an XSS hole" in text
    assert "(/api/)" in text and "127.0.0.1:8000" in text


def test_every_page_shows_the_source_it_runs() -> None:
    for path in PAGES[:-1]:
        page = Page(path)
        sources = [block.value for block in page.at.main.expander[-1].code]
        assert sources and all(source.lstrip().startswith(("def ", "async def ", "@")) for source in sources), path
