"""root_agent for `adk api_server bench/agents`: the agent our API serves in the load benchmark,
with the scripted reply the benchmark sets in the environment (bench.servers.reply_env).

ADK imports this file by path; `bench` comes from the checkout, which bench.servers.adk_server
puts on the server's PYTHONPATH, and `streaming_core` from the installed project.
"""

from __future__ import annotations

from bench.servers import bench_config
from streaming_core.runtime import build_assistant
from streaming_core.settings import load_settings

root_agent = build_assistant(bench_config(), load_settings()).agent
