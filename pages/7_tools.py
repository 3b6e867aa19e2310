"""Tools: an agent with two real function tools; calls and results as a timeline between text."""

import streamlit as st

import ui
from streaming_core.agent import build_agent
from streaming_core.tools import DEMO_TOOLS, convert_units, get_current_time

EXAMPLES = {  # what to ask, and the call the scripted model makes for it
    "What time is it in Tokyo?": ("get_current_time", {"timezone": "Asia/Tokyo"}),
    "How many miles is 10 km?": ("convert_units", {"value": 10, "from_unit": "km", "to_unit": "mi"}),
    "What is 100 °F in Celsius?": ("convert_units", {"value": 100, "from_unit": "F", "to_unit": "C"}),
}

context = ui.setup_page(
    "Tools",
    "The agent has two real Python tools: the current time in a timezone and unit conversion. Each "
    "call and its result appear as a status box in the timeline, between the text streamed before "
    "and after it.",
)
scripted = context.scripted
if context.backend == "local":
    st.info(
        "The local Gemma 3 270M model is too small to call tools. This page uses the scripted "
        "tool-calling model instead: it makes a real call to a real tool, then streams an answer "
        "built from the result. With `GOOGLE_API_KEY` set, Gemini decides on the calls itself.",
        icon=":material/info:",
    )
    scripted = st.toggle("Use the scripted tool-calling model", value=True)
if scripted:
    message = ui.choice_form("tools_scripted", tuple(EXAMPLES), label="Question (the scripted model makes its call)")
    reply = context.scripted_reply(
        function_call=EXAMPLES[message or next(iter(EXAMPLES))],
        text="The tool returned {tool_result}, so that is the answer to “{message}”.",
    )
    config = context.config(backend="scripted", tools=DEMO_TOOLS, script=(reply,))
else:
    config = context.config(tools=DEMO_TOOLS)
    message = ui.prompt_form(
        "tools", "What time is it in Tokyo, and how many miles is 10 km?", context.settings.max_message_chars
    )
if message:
    with st.chat_message("assistant"):
        timeline = ui.ToolTimeline()
        outcome = ui.stream_answer(message, config, mode=context.mode, on_tool=timeline)
    if timeline.calls == 0 and outcome.done:
        st.caption("The model answered without calling a tool.")
    ui.show_outcome(outcome)

ui.show_source(
    get_current_time,
    convert_units,
    build_agent,
    adk_note=(
        "In ADK a tool is a plain Python function: its name, type hints and docstring become the "
        "declaration the model sees. In SSE mode a function call may show up in partial events as a "
        "preview; ADK runs only the call in the final event, so the timeline reports those."
    ),
)
