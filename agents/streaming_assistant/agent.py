"""root_agent for ADK's own tools: `adk web agents` and `adk api_server agents` serve the same
agent as the Streamlit demo and the SSE API, on the backend STREAMING_BACKEND picks.

ADK imports this file by path; `streaming_core` comes from the installed project (`make run`,
`pip install -e .`), so nothing here patches sys.path.
"""

from __future__ import annotations

from streaming_core.agent import build_agent
from streaming_core.backends import create_model, resolve_backend
from streaming_core.settings import load_settings
from streaming_core.tools import DEMO_TOOLS

_settings = load_settings()
root_agent = build_agent(
    create_model(resolve_backend(_settings.backend, _settings).name, _settings),
    tools=DEMO_TOOLS,
    temperature=_settings.temperature,
    max_output_tokens=_settings.max_output_tokens,
)
