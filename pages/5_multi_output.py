"""Multi-output: one stream fanned out to the page, a transcript file, a log pane and a JSON-lines log."""

import streamlit as st

import ui
from streaming_core.patterns import fan_out

context = ui.setup_page(
    "Multi-output",
    "One stream feeds several outputs at once: this page, a transcript you can download, a live log "
    "pane and a JSON-lines event log. An output that raises is reported and dropped; the rest go on.",
)
broken = st.toggle("Add an output that fails on the 5th chunk", value=True)
message = ui.prompt_form("multi_output", "Explain fan-out in one paragraph.", context.settings.max_message_chars)
if message:
    page_column, log_column = st.columns([3, 2])
    with log_column:
        st.caption("Log pane")
        outputs = ui.MultiOutput(ui.LogPane(), broken=broken)
    with page_column:
        st.caption("Page")
        outcome = ui.stream_answer(message, context.config(coalesce=False), mode=context.mode, through=outputs.through)
    outputs.show()
    ui.show_outcome(outcome)

ui.show_source(
    fan_out,
    adk_note=(
        "The tutorial's fan-out loops over handlers inside the `async for` over `run_async`, so one "
        "handler that raises ends the whole stream. `fan_out` catches each output's failure, reports it "
        "and carries on; a Stop (Streamlit's StopException is a BaseException) still ends everything."
    ),
)
