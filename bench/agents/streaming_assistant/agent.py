"""root_agent for `adk api_server bench/agents`: the agent our API serves in the load benchmark,
with the scripted reply the benchmark sets in the environment (bench.servers.reply_env)."""

from __future__ import annotations

import sys
from pathlib import Path

# ADK imports this package by path; make the project importable too.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from bench.servers import bench_config
from streaming_core.runtime import build_assistant
from streaming_core.settings import load_settings

root_agent = build_assistant(bench_config(), load_settings()).agent
