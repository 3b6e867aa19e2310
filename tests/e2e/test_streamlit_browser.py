"""The Streamlit demo in headless Chromium against a real `streamlit run app.py` (scripted backend)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from playwright.sync_api import expect

from streaming_core.testing.streamlit_browser import WATCH_ANSWER, Browser, new_tab
from streaming_core.testing.streamlit_server import StreamlitServer

pytestmark = pytest.mark.browser

PAGE_PATHS = [
    "",
    "basic_streaming",
    "chat",
    "aggregation",
    "progress",
    "multi_output",
    "timeout",
    "tools",
    "errors",
    "sse_api",
]


@pytest.fixture(scope="module")
def streamlit_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    with StreamlitServer(tmp_path_factory.mktemp("streamlit")) as server:
        yield server


@pytest.fixture
def browser(chromium: Any, streamlit_app: StreamlitServer) -> Iterator[Browser]:
    with new_tab(chromium, streamlit_app) as tab:
        yield tab


def test_deep_link_on_a_fresh_server_runs_the_page_with_its_sidebar(chromium: Any, tmp_path: Path) -> None:
    """Regression: with a pages/ folder, the first session after start that deep-links to a page
    runs that file directly (no router), so every page must render the sidebar itself."""
    with StreamlitServer(tmp_path) as server, new_tab(chromium, server) as tab:
        tab.open("chat")

        sidebar = tab.page.get_by_test_id("stSidebar")
        tab.page.get_by_role("heading", name="Chat").wait_for()
        sidebar.get_by_text("Scripted model", exact=True).wait_for()  # widgets mount lazily
        sidebar.get_by_role("link", name="Multi-output").wait_for()
        assert tab.exceptions() == 0


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_every_page_loads_without_an_exception(browser: Browser, path: str) -> None:
    browser.open(path)

    browser.page.locator("h1").first.wait_for()
    assert browser.exceptions() == 0


def test_answer_renders_progressively_then_once(browser: Browser) -> None:
    browser.open("chat")
    browser.page.evaluate(WATCH_ANSWER)

    browser.chat("Stream this")
    browser.page.get_by_text("Metrics of the last answer").wait_for()  # streamed, then re-read
    answer = browser.page.get_by_test_id("stChatMessage").last

    final_length = len(answer.inner_text())
    lengths = [length for _, length in browser.page.evaluate("window.__lengths")]
    intermediate = {length for length in lengths[: lengths.index(final_length)] if 0 < length < final_length}
    assert len(intermediate) >= 3, lengths
    assert browser.page.get_by_text("You asked: Stream this").count() == 1


def test_stop_cancels_the_answer_within_a_second_and_keeps_it_marked(browser: Browser) -> None:
    browser.open("chat")
    browser.set_number("Between chunks (s)", 0.2)  # about 8 s for the whole answer
    browser.chat("Please stop me")
    answer = browser.page.get_by_test_id("stChatMessage").last
    answer.get_by_text("You asked: Please stop me").wait_for()
    stop = browser.page.get_by_test_id("stChatInputStopButton")

    shown_at_stop = len(answer.inner_text())
    clicked = time.perf_counter()
    browser.run_after(stop.click, timeout_ms=5_000)
    stopped_after = time.perf_counter() - clicked

    assert stopped_after < 1.0
    # The next run reads the conversation back from the ADK session.
    browser.page.get_by_test_id("stSidebar").get_by_role("link", name="Chat").click()
    kept = browser.page.get_by_test_id("stChatMessage").last
    kept.get_by_text("Stopped: this is the partial answer.").wait_for()
    # Chunks come every 0.2 s: a call still running for a second would have added five more.
    assert len(kept.inner_text()) < shown_at_stop + 5 * 12 + len("Stopped: this is the partial answer.")


def test_stop_while_the_model_is_silent_ends_the_run_within_a_second(browser: Browser) -> None:
    """Regression: st.write_stream skips empty pieces without checking for Stop, so a silent model
    (no chunk yet) could only be stopped once it spoke; heartbeats now touch session state."""
    browser.open("chat")
    browser.set_number("First chunk after (s)", 8)
    browser.chat("Are you there?")
    stop = browser.page.get_by_test_id("stChatInputStopButton")
    stop.wait_for()

    clicked = time.perf_counter()
    browser.run_after(stop.click, timeout_ms=5_000)

    assert time.perf_counter() - clicked < 1.0
    assert browser.page.get_by_text("You asked").count() == 0


def test_switching_conversation_mid_stream_keeps_the_partial_answer(browser: Browser) -> None:
    browser.open("chat")
    browser.set_number("Between chunks (s)", 0.2)
    browser.chat("Interrupt me")
    browser.page.get_by_text("You asked: Interrupt me").wait_for()

    # With runner.fastReruns off, the click's run starts after the streaming run's cleanup.
    sidebar = browser.page.get_by_test_id("stSidebar")
    sidebar.get_by_text("New chat").click()
    browser.page.get_by_text("A new conversation").wait_for()
    sidebar.get_by_text("Interrupt me").click()

    stopped = browser.page.get_by_test_id("stChatMessage").last.get_by_text("Stopped: this is the partial answer.")
    stopped.wait_for()
    assert browser.exceptions() == 0


def test_html_in_model_output_is_inert(browser: Browser) -> None:
    payload = (
        '<script>window.__xss = "script"</script><img src=x onerror="window.__xss = \'img\'"> '
        "[click](javascript:window.__xss='link')"
    )
    browser.open("chat")
    dialogs: list[str] = []

    def record(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    browser.page.on("dialog", record)

    browser.chat(payload)
    browser.page.get_by_text("Metrics of the last answer").wait_for()  # streamed, then re-read
    answer = browser.page.get_by_test_id("stChatMessage").last

    assert browser.page.evaluate("window.__xss") is None
    assert dialogs == []
    messages = browser.page.get_by_test_id("stChatMessage")
    assert messages.locator("img[src='x'], script, a[href^='javascript']").count() == 0
    assert "onerror" in answer.inner_text()  # shown as text, not run as markup


def test_overlong_message_shows_an_error_and_returns_to_the_box(browser: Browser) -> None:
    browser.open("chat")
    too_long = "z" * 8001

    browser.chat(too_long)

    browser.page.get_by_text("the limit is 8,000").wait_for()  # shown by the rerun that restores the box
    assert browser.page.get_by_test_id("stChatInputTextArea").input_value() == too_long
    assert browser.page.get_by_test_id("stChatMessage").count() == 0


def test_sidebar_settings_follow_the_user_across_pages(browser: Browser) -> None:
    browser.open()
    browser.set_number("Between chunks (s)", 0.07)

    browser.run_after(lambda: browser.page.get_by_test_id("stSidebar").get_by_role("link", name="Progress").click())

    browser.page.get_by_role("heading", name="Progress").wait_for()
    expect(browser.page.get_by_label("Between chunks (s)", exact=True)).to_have_value("0.070")  # retries


def test_coalescing_keeps_websocket_traffic_small_for_tiny_chunks(browser: Browser) -> None:
    """Un-coalesced, write_stream would resend the whole text per chunk: about 10 MB here."""
    received: list[int] = []
    browser.page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(len(frame))))
    browser.open("progress")
    for label, value in [("Characters per chunk", 5), ("First chunk after (s)", 0), ("Between chunks (s)", 0)]:
        browser.set_number(label, value)
    browser.set_number("Answer length (paragraphs)", 22)  # about 10 KB in about 2,000 chunks
    received.clear()

    browser.run_after(lambda: browser.page.get_by_role("button", name="Run").click(), timeout_ms=60_000)

    label = browser.page.get_by_text("Chunks", exact=True)
    chunks = browser.page.get_by_test_id("stMetric").filter(has=label).last.inner_text()
    assert int(chunks.split()[-1].replace(",", "")) > 1_500
    assert sum(received) < 500_000, f"{sum(received):,} bytes in {len(received)} frames"


def test_the_sse_api_is_served_on_the_streamlit_port(streamlit_app: StreamlitServer) -> None:
    """`streamlit run app.py` finds app.py's st.App, which mounts the API under /api. (Sync client:
    the module's Playwright owns this thread's event loop.)"""
    url = streamlit_app.url
    with httpx.Client(timeout=30) as client:
        with connect_sse(client, "GET", f"{url}/api/chat/stream", params={"query": "One port"}) as source:
            events = list(source.iter_sse())
        health = client.get(f"{url}/api/healthz")
        streamlit_health = client.get(f"{url}/_stcore/health")

    text = "".join(json.loads(e.data)["text"] for e in events if e.event == "message" and e.data != "[DONE]")
    done = [json.loads(e.data) for e in events if e.event == "done"]
    assert events[-1].data == "[DONE]" and len(events) > 3
    assert text.startswith("You asked: One port") and done[0]["status"] == "completed"
    assert health.json()["backend"] == "scripted" and streamlit_health.status_code == 200


def test_the_api_client_page_works_on_the_streamlit_port(browser: Browser) -> None:
    browser.page.goto(f"{browser.server.url}/api/")
    browser.page.fill("#query", "Hosted demo")
    browser.page.click("#send")
    browser.page.wait_for_selector('#status[data-state="done"]', timeout=30_000)

    assert "You asked: Hosted demo" in browser.page.text_content("#answer")


def test_visitors_see_only_their_own_conversations(chromium: Any, streamlit_app: StreamlitServer) -> None:
    """Each browser gets its own visitor cookie from app.py's server; conversations are per visitor."""
    with new_tab(chromium, streamlit_app) as alice, new_tab(chromium, streamlit_app) as bob:
        alice.open("chat")
        alice.chat("Alice's private question")
        alice.page.get_by_text("Metrics of the last answer").wait_for()
        bob.open("chat")
        bob.wait_until_idle()

        sidebar = bob.page.get_by_test_id("stSidebar")
        assert alice.page.get_by_test_id("stSidebar").get_by_text("Alice's private question").count() == 1
        sidebar.get_by_text("New chat").wait_for()  # bob's own (empty) conversation list
        assert sidebar.get_by_text("Alice's private question").count() == 0
        cookies = [{c["name"]: c["value"] for c in tab.page.context.cookies()} for tab in (alice, bob)]
        assert cookies[0]["adk_user"] != cookies[1]["adk_user"]


def test_two_tabs_on_one_conversation_take_turns_and_keep_both(chromium: Any, streamlit_app: StreamlitServer) -> None:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})  # one browser: one visitor
    first, second = Browser(context.new_page(), streamlit_app), Browser(context.new_page(), streamlit_app)
    try:
        first.open("chat")
        first.chat("Tab one asks")
        first.page.get_by_text("Metrics of the last answer").wait_for()
        second.open("chat")
        second.page.get_by_test_id("stSidebar").get_by_text("Tab one asks").click()
        second.page.get_by_text("You asked: Tab one asks").wait_for()
        first.set_number("Between chunks (s)", 0.1)  # tab one's next answer takes a few seconds

        first.chat("Tab one again")
        first.page.get_by_text("You asked: Tab one again").wait_for()
        second.chat("Tab two meanwhile")

        second.page.get_by_text("Another answer in this conversation").wait_for()
        second.page.get_by_text("Metrics of the last answer").wait_for(timeout=60_000)
        messages = second.page.get_by_test_id("stChatMessage").all_inner_texts()
        asked = [line.strip() for text in messages for line in text.splitlines() if line.startswith("Tab ")]
        assert asked == ["Tab one asks", "Tab one again", "Tab two meanwhile"]  # answers say "You asked: …"
        assert second.exceptions() == 0 and first.exceptions() == 0
    finally:
        context.close()
