"""Shared Streamlit widgets for the demo's pages: the only package besides app.py and pages/
that imports streamlit. Pages call `setup_page` first, then one streaming helper."""

from ui.aggregation import collect_with_status, show_aggregation
from ui.context import FAULTS, PageContext, with_fault
from ui.conversations import chat_turn, conversation_sidebar, show_history, show_last_turn
from ui.inputs import chat_prompt, choice_form, prompt_form, retry_button, retry_requested
from ui.live import LiveProgress
from ui.metrics import format_seconds, metrics_strip
from ui.navigation import PATTERNS, home_page, navigation
from ui.outcome import show_outcome, show_stream_error
from ui.outputs import LogPane, MultiOutput
from ui.shell import app_shell, setup_page
from ui.source import show_source
from ui.streaming import StreamOutcome, collect_answer, scripted_log, stream_answer
from ui.tools import ToolTimeline

__all__ = [
    "FAULTS",
    "PATTERNS",
    "LiveProgress",
    "LogPane",
    "MultiOutput",
    "PageContext",
    "StreamOutcome",
    "ToolTimeline",
    "app_shell",
    "chat_prompt",
    "chat_turn",
    "choice_form",
    "collect_answer",
    "collect_with_status",
    "conversation_sidebar",
    "format_seconds",
    "home_page",
    "metrics_strip",
    "navigation",
    "prompt_form",
    "retry_button",
    "retry_requested",
    "scripted_log",
    "setup_page",
    "show_aggregation",
    "show_history",
    "show_last_turn",
    "show_outcome",
    "show_source",
    "show_stream_error",
    "stream_answer",
    "with_fault",
]
