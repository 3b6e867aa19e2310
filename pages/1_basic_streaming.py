"""Basic streaming: the same prompt with StreamingMode.SSE and NONE, measured side by side."""

import streamlit as st

import ui
from streaming_core.assistant import parse_mode
from streaming_core.normalize import EventNormalizer
from streaming_core.sync_api import stream_turn_sync

context = ui.setup_page(
    "Basic streaming",
    "One prompt, answered twice: with SSE the first words appear as soon as the model writes them; "
    "with NONE nothing appears until the whole answer is ready. The sidebar's mode is ignored here.",
)
message = ui.prompt_form(
    "basic", "Explain in two short paragraphs why streaming answers feel faster.", context.settings.max_message_chars
)
if message:
    results = {}
    for column, mode in zip(st.columns(2), ("sse", "none"), strict=True):
        with column:
            st.subheader(mode.upper())
            results[mode] = ui.stream_answer(message, context.config(), mode=mode)
            ui.show_outcome(results[mode], metrics=False)
    sse, none = (results[mode].done for mode in ("sse", "none"))
    if sse and none:
        st.info(
            f"First words after **{ui.format_seconds(sse.metrics.time_to_first_chunk)}** with SSE and "
            f"**{ui.format_seconds(none.metrics.time_to_first_chunk)}** with NONE; the whole answer took "
            f"{ui.format_seconds(sse.metrics.total_time)} and {ui.format_seconds(none.metrics.total_time)}."
        )
    for mode, outcome in results.items():
        if outcome.done:
            ui.metrics_strip(outcome.done.metrics, label=mode.upper())

st.markdown(
    "**Why not BIDI?** `StreamingMode.BIDI` is ADK's Live API mode: `runner.run_live()` with a "
    "`LiveRequestQueue` keeps a two-way websocket to a Gemini Live model for audio, video and "
    "interruptions. It needs a Live-capable Gemini model and a websocket client, works with neither "
    "local Gemma nor a plain HTTP model, and does not make text answers stream any better than SSE, "
    "so this demo covers SSE and NONE."
)
ui.show_source(
    ui.stream_answer,
    stream_turn_sync,
    parse_mode,
    EventNormalizer.confirm_final,
    adk_note=(
        "The tutorial prints the text of every event `run_async` yields. In SSE mode ADK yields "
        "`partial=True` events with small deltas and then one final event that repeats the *whole* "
        "answer, so that loop prints the answer twice. The core treats partial events as deltas and "
        "the final one as confirmation; with NONE, the final text becomes the single delta."
    ),
)
