"""The chat page under AppTest: memory through ADK sessions, conversations, input rules."""

from __future__ import annotations

from streaming_core.backends.scripted import ScriptedReply
from streaming_core.events import TextDelta
from streaming_core.sync_api import call_assistant, stream_turn_sync
from tests.app.apptest import Page, script_log

CHAT = "pages/2_chat.py"


def messages(page: Page) -> list[tuple[str, str]]:
    return [(message.name, message.markdown[0].value) for message in page.at.chat_message]


def send(page: Page, text: str) -> None:
    page.at.chat_input[0].set_value(text).run()


def test_answer_appears_once_and_comes_back_from_the_session() -> None:
    page = Page(CHAT)

    send(page, "Hello there")

    assert not page.at.exception
    assert [role for role, _ in messages(page)] == ["user", "assistant"]
    assert messages(page)[1][1].startswith("You asked: Hello there")
    assert page.at.session_state["chat_session_id"]


def test_second_turn_sends_the_first_turn_to_the_model() -> None:
    page = Page(CHAT)
    send(page, "My name is Ada.")

    send(page, "What is my name?")

    seen = [
        part.text
        for content in script_log(page.config(persistent=True)).requests[-1].contents
        for part in content.parts or []
        if part.text
    ]
    assert seen[0] == "My name is Ada."
    assert seen[1].startswith("You asked: My name is Ada.")
    assert seen[2] == "What is my name?"
    assert len(messages(page)) == 4


def test_conversation_list_opens_starts_and_deletes_conversations() -> None:
    page = Page(CHAT)
    send(page, "First conversation")
    first = page.at.session_state["chat_session_id"]

    page.at.button(key="chat_new").click().run()
    send(page, "Second conversation")
    page.at.button(key=f"chat_open_{first}").click().run()
    reopened = messages(page)
    page.at.button(key="chat_delete").click().run()

    assert reopened[0] == ("user", "First conversation")
    assert page.at.session_state["chat_session_id"] is None
    assert not page.at.chat_message
    assert f"chat_open_{first}" not in [button.key for button in page.at.sidebar.button]


def test_stopped_answer_stays_in_history_marked_as_stopped() -> None:
    page = Page(CHAT)
    hanging = page.config(persistent=True, script=(ScriptedReply(text="partial words", chunk_size=8, hang_after=1),))
    visitor = page.at.session_state["visitor_id"]  # this AppTest "browser" has no cookie
    session_id = call_assistant(hanging, lambda assistant: assistant.start_conversation(visitor))
    events = stream_turn_sync("Tell me slowly", hanging, session_id=session_id, user_id=visitor)
    assert next(event for event in events if isinstance(event, TextDelta)).text == "partial "
    events.close()  # what the page does when Stop interrupts write_stream

    page.at.session_state["chat_session_id"] = session_id
    page.at.run()

    assert [(role, text.strip()) for role, text in messages(page)] == [
        ("user", "Tell me slowly"),
        ("assistant", "partial"),
    ]
    assert any("Stopped" in caption.value for caption in page.at.chat_message[1].caption)
    assert script_log(hanging).cancelled == 1


def test_blank_message_is_ignored() -> None:
    page = Page(CHAT)
    started = script_log(page.config(persistent=True)).started

    send(page, "  \n\t ")

    assert not page.at.chat_message and not page.at.error
    assert script_log(page.config(persistent=True)).started == started


def test_overlong_message_gets_an_inline_error_and_goes_back_into_the_box() -> None:
    page = Page(CHAT)
    send(page, "Keep this conversation")
    before = messages(page)
    started = script_log(page.config(persistent=True)).started
    too_long = "y" * 8001

    send(page, too_long)

    assert "the limit is 8,000" in page.at.error[0].value
    assert page.at.get("chat_input")[0].proto.value == too_long
    assert messages(page) == before
    assert script_log(page.config(persistent=True)).started == started


def test_visitors_without_a_cookie_do_not_share_conversations() -> None:
    first = Page(CHAT)
    send(first, "Only for the first visitor")
    second = Page(CHAT)

    def titles(page: Page) -> list[str]:
        return [button.label for button in page.at.sidebar.button]

    assert any("Only for the first visitor" in title for title in titles(first))
    assert not any("Only for the first visitor" in title for title in titles(second))
