"""Tool calls and results as an st.status timeline between the streamed text segments."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from streaming_core.events import ToolCall, ToolResult


class ToolTimeline:
    """One st.status per call: running when the model asks, complete (or error) with the result."""

    def __init__(self) -> None:
        self._open: dict[str, Any] = {}
        self.calls = 0

    def __call__(self, event: ToolCall | ToolResult) -> None:
        key = event.call_id or event.name
        if isinstance(event, ToolCall):
            self.calls += 1
            box = st.status(f"Calling {_code(f'{event.name}({_arguments(event.args)})')}", state="running")
            box.json(event.args)
            self._open[key] = box
            return
        box = self._open.pop(key, None) or st.status(_code(event.name))
        failed = event.response.get("status") == "error"
        box.json(event.response)
        label = f"{_code(event.name)} → {_code(_summary(event.response))}"
        box.update(label=label, state="error" if failed else "complete")


def _arguments(args: dict[str, Any]) -> str:
    return ", ".join(f"{name}={json.dumps(value)}" for name, value in args.items())


def _summary(response: dict[str, Any]) -> str:
    shown = {k: v for k, v in response.items() if k != "status"}
    return ", ".join(f"{k}: {v}" for k, v in shown.items())[:120]


def _code(text: str) -> str:
    """Inline code in a markdown label; model-chosen text cannot end the code span early."""
    return "`" + text.replace("`", "'") + "`"
