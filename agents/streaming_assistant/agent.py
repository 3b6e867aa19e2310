"""root_agent for ADK's own tools: `adk web agents` and `adk api_server agents` serve the same
agent as the Streamlit demo and the SSE API, on the backend STREAMING_BACKEND picks."""

from __future__ import annotations

import sys
from pathlib import Path

# `adk web agents` imports this package by path; make the project's core importable too.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from streaming_core.agent import build_agent
from streaming_core.backends import create_model, resolve_backend
from streaming_core.settings import load_settings

_settings = load_settings()
root_agent = build_agent(
    create_model(resolve_backend(_settings.backend, _settings).name, _settings),
    tools=("get_current_time", "convert_units"),
    temperature=_settings.temperature,
    max_output_tokens=_settings.max_output_tokens,
)
