"""root_agent for ADK's own tools: `adk web agents` and `adk api_server agents` serve the same
agent as the Streamlit demo and the SSE API, on the backend STREAMING_BACKEND picks.

ADK imports this file by path; `streaming_core` comes from the installed project (`make run`,
`pip install -e .`), so nothing here patches sys.path.
"""

from __future__ import annotations

from streaming_core.agent import build_agent
from streaming_core.backends import create_model, default_temperature, resolve_backend
from streaming_core.settings import load_settings
from streaming_core.tools import DEMO_TOOLS

_settings = load_settings()
_backend = resolve_backend(_settings.backend, _settings).name
root_agent = build_agent(
    create_model(_backend, _settings),
    tools=DEMO_TOOLS,
    temperature=default_temperature(_backend, _settings),
    max_output_tokens=_settings.max_output_tokens,
)
