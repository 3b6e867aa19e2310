"""Timeout: a deadline on the model's silence that keeps the partial text and cancels the call."""

import streamlit as st

import ui
from streaming_core.assistant import Turn

context = ui.setup_page(
    "Timeout",
    "Set a time limit. When it fires, the text so far stays on screen, a notice says so, and the "
    "model call is cancelled (not left running in the background). With the scripted model's default "
    "pacing an answer takes about 1.5 s.",
)
timeout = st.slider("Time limit (s)", 0.2, 10.0, 1.0, 0.1)
message = ui.prompt_form("timeout", "Take your time and explain timeouts.", context.settings.max_message_chars)
if message:
    outcome = ui.stream_answer(message, context.config(), mode=context.mode, timeout_s=timeout)
    ui.show_outcome(outcome)
    if outcome.done and outcome.done.status == "completed":
        st.success(f"Finished within the {timeout:g} s limit.")

ui.show_source(
    Turn.events,
    adk_note=(
        "The tutorial wraps the whole `async for` in `asyncio.wait_for`, which also counts the time the "
        "consumer spends between chunks and, on timeout, drops the text received so far. The core applies "
        "the deadline only to the wait for ADK's next event (`asyncio.timeout_at`), closes `run_async` "
        "with `aclosing` so the model call is cancelled, and saves the partial answer."
    ),
)
