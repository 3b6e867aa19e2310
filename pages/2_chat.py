"""Chat: multi-turn memory in ADK sessions (SQLite), past conversations, Stop keeps the partial answer."""

import ui
from streaming_core.assistant import Assistant, Turn
from streaming_core.sessions import messages_from_events

context = ui.setup_page(
    "Chat",
    "Conversation memory lives in ADK sessions in SQLite, so it survives a restart. While an answer "
    "streams, the send button becomes Stop: the model call is cancelled and the partial answer is "
    "kept in the conversation, marked as stopped.",
)
ui.show_source(
    Assistant.history,
    messages_from_events,
    Turn.keep_partial,
    adk_note=(
        "ADK writes only final events to the session, so an answer cut off by Stop would vanish from "
        "memory: its final event never comes. The core appends the streamed part itself, marked "
        "`interrupted`. The tutorial keeps history in a Python list; here the model sees exactly what "
        "the session service holds, and `SqliteSessionService` is async and bound to one event loop."
    ),
)
config = context.config(persistent=True)
session_id = ui.conversation_sidebar(config, context.sidebar_slot)
ui.show_history(config, session_id)
prompt = ui.chat_prompt("chat_prompt", context.settings.max_message_chars)
if prompt:
    ui.chat_turn(prompt, config, mode=context.mode, session_id=session_id, input_key="chat_prompt")
else:
    ui.show_last_turn(session_id)
