"""ADK Streaming Lab: the router. Page config, the shared sidebar, one page per streaming pattern."""

from __future__ import annotations

import streamlit as st

import ui

PAGES = [  # file, title, icon, what it shows
    ("pages/1_basic_streaming.py", "Basic streaming", ":material/bolt:", "SSE and NONE side by side, measured"),
    ("pages/2_chat.py", "Chat", ":material/chat:", "Memory in ADK sessions (SQLite), Stop, history"),
    ("pages/3_aggregation.py", "Aggregation", ":material/stacks:", "Every chunk, then the whole text, checked"),
    ("pages/4_progress.py", "Progress", ":material/speed:", "Live counter, elapsed time and rate chart"),
    ("pages/5_multi_output.py", "Multi-output", ":material/call_split:", "One stream to page, file, log pane, JSONL"),
    ("pages/6_timeout.py", "Timeout", ":material/timer:", "A deadline that keeps the partial answer"),
    ("pages/7_tools.py", "Tools", ":material/build:", "Function tools as a timeline between text"),
    ("pages/8_errors.py", "Errors", ":material/error:", "Injected faults, clear messages, Retry"),
    ("pages/9_sse_api.py", "SSE API", ":material/api:", "Calling the project's SSE endpoint"),
]
patterns = [st.Page(path, title=title, icon=icon) for path, title, icon, _ in PAGES]


def home() -> None:
    context = ui.setup_page(
        "ADK Streaming Lab",
        "Google ADK's StreamingMode.SSE, one pattern per page: watch the chunks arrive, measure them, "
        "stop them, and copy the code.",
    )
    st.markdown(
        "Every page streams a real ADK `Runner.run_async` through the project's `streaming_core` "
        "(normalized events, a background event loop, metrics) into `st.write_stream`. "
        f"Right now the model is **{context.backend}**: {context.backend_note}. "
        "Pick another backend, the streaming mode, and the scripted model's pacing and faults in the sidebar."
    )
    columns = st.columns(3)
    for index, (page, (_, _, _, blurb)) in enumerate(zip(patterns, PAGES, strict=True)):
        with columns[index % 3].container(border=True):
            st.page_link(page)
            st.caption(blurb)


page = st.navigation({"": [st.Page(home, title="Home", icon=":material/home:", default=True)], "Patterns": patterns})
with ui.app_shell():
    page.run()
