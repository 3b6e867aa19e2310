"""Errors: injected faults before the first chunk, mid-stream, hanging, or a quota refusal."""

import streamlit as st

import ui
from streaming_core.failures import describe_failure
from streaming_core.normalize import EventNormalizer

context = ui.setup_page(
    "Errors",
    "Pick a fault and send. You get a clear message and never a traceback, the text that did arrive "
    "stays on screen, and Retry sends the message again (the fault is treated as transient).",
)
if not context.scripted:
    st.caption(
        f"Faults are injected with the scripted model, so this page does not use {context.backend}; "
        "real failures from Gemini (an exhausted quota, a bad key) reach the page the same way."
    )
fault = st.radio("Fault", tuple(ui.FAULTS)[1:], format_func=ui.FAULTS.__getitem__, horizontal=True)
limit = st.slider("Give up after (s): ends a hang", 0.5, 10.0, 2.0, 0.5)
message = ui.prompt_form("errors", "Tell me about error handling.", context.settings.max_message_chars, button="Send")
retry = ui.retry_requested("errors")
if text := message or retry:
    # Faults are injected with the scripted model whatever the sidebar says; a real Gemini 429
    # or a bad key takes the same path through describe_failure.
    reply = ui.with_fault(context.scripted_reply(), "none" if retry else fault)
    config = context.config(backend="scripted", script=(reply,))
    outcome = ui.stream_answer(text, config, mode=context.mode, timeout_s=limit)
    ui.show_outcome(outcome, metrics=False)
    if outcome.failed:
        ui.retry_button("errors", text)
    elif retry:
        st.success("The retry went through.")
    if outcome.done:
        ui.metrics_strip(outcome.done.metrics)

ui.show_source(
    describe_failure,
    EventNormalizer.report_error,
    adk_note=(
        "When the model raises, ADK first yields an event with `error_code`/`error_message` and then "
        "re-raises, so the tutorial's loop dies with a traceback and loses the text it printed. The "
        "core turns both into one `StreamError` with a human message (Gemini's 429 becomes `quota` "
        "with the retry delay) and still ends the stream with `Done`, so the partial text is kept."
    ),
)
