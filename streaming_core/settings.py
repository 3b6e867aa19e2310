"""The environment, read once into a frozen dataclass; invalid values fail with a clear message."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from streaming_core.backends import AUTO, BACKEND_CHOICES, gemini_credentials
from streaming_core.errors import ConfigurationError

# How a page streams text: finished markdown blocks once each and only the live tail resent
# (streaming_core/markdown_blocks.py), or the whole text on every update (kept for the benchmark).
STREAM_RENDERINGS = ("blocks", "whole")
# LlmAgent.DEFAULT_MODEL in google-adk 2.13.
DEFAULT_GEMINI_MODEL = "gemini-3.5-flash"

N = TypeVar("N", int, float)


@dataclass(frozen=True, slots=True)
class Settings:
    backend: str = AUTO
    gemini_model: str = DEFAULT_GEMINI_MODEL
    gemini_configured: bool = False  # backends.gemini_credentials: a key, or Vertex AI switched on
    session_db: Path = Path(".data/sessions.db")
    # SESSION_SERVICE_URI (memory://, sqlite:///path, postgresql+asyncpg://...); empty: SQLite at session_db
    session_service_uri: str = ""
    # RUN_STORE_URL: where runs, cancel signals and conversation locks live; memory:// is this process
    run_store_url: str = "memory://"
    local_model_dir: Path = Path.home() / ".cache" / "adk-streaming-lab"
    max_message_chars: int = 8000
    temperature: float | None = None  # TEMPERATURE; None: each backend's own (backends.default_temperature)
    max_output_tokens: int = 512
    # Least seconds between page updates while an answer streams. With tail-only updates (blocks)
    # 30 a second (0.033) costs ~15x fewer bytes than 20 a second did with the whole text, and only
    # 0-7% more than 20 a second tail-only; but 20 a second tail-only already shows ~30 visible
    # changes a second (a finished block and the live one land separately) with gaps under 0.1 s,
    # and a 10 KB answer's turn sits right at its 0.1 MB target, so 0.05 stays. See "Streamlit
    # websocket cost" in docs/benchmarks.md.
    stream_update_interval_s: float = 0.05
    stream_rendering: str = "blocks"  # one of STREAM_RENDERINGS
    # A page's answer ends with a timeout notice after this long even if nobody presses Stop
    # (the API has its own, API_TURN_TIMEOUT_SECONDS).
    turn_timeout_s: float = 120.0


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Reads STREAMING_BACKEND, GEMINI_MODEL, SESSION_DB, SESSION_SERVICE_URI, RUN_STORE_URL,
    LOCAL_MODEL_DIR, the input and sampling limits, STREAM_UPDATE_INTERVAL_S,
    STREAM_RENDERING and TURN_TIMEOUT_SECONDS."""
    env = os.environ if env is None else env
    backend = env.get("STREAMING_BACKEND", AUTO).strip().lower() or AUTO
    if backend not in BACKEND_CHOICES:
        raise ConfigurationError(
            f"STREAMING_BACKEND={backend!r} is not a backend; use one of {', '.join(BACKEND_CHOICES)}."
        )
    defaults = Settings()
    rendering = env.get("STREAM_RENDERING", "").strip().lower() or defaults.stream_rendering
    if rendering not in STREAM_RENDERINGS:
        raise ConfigurationError(
            f"STREAM_RENDERING={rendering!r} is not a rendering; use one of {', '.join(STREAM_RENDERINGS)}."
        )
    return Settings(
        backend=backend,
        gemini_model=env.get("GEMINI_MODEL", "").strip() or DEFAULT_GEMINI_MODEL,
        gemini_configured=gemini_credentials(env),
        session_db=Path(env.get("SESSION_DB", "") or defaults.session_db),
        session_service_uri=env.get("SESSION_SERVICE_URI", "").strip(),
        run_store_url=env.get("RUN_STORE_URL", "").strip() or defaults.run_store_url,
        local_model_dir=Path(env.get("LOCAL_MODEL_DIR", "") or defaults.local_model_dir).expanduser(),
        max_message_chars=env_number(env, "MAX_MESSAGE_CHARS", defaults.max_message_chars, int, 1, 1_000_000),
        temperature=env_number(env, "TEMPERATURE", 0.7, float, 0.0, 2.0)
        if env.get("TEMPERATURE", "").strip()
        else None,
        max_output_tokens=env_number(env, "MAX_OUTPUT_TOKENS", defaults.max_output_tokens, int, 1, 65_536),
        stream_update_interval_s=env_number(
            env, "STREAM_UPDATE_INTERVAL_S", defaults.stream_update_interval_s, float, 0.0, 5.0
        ),
        stream_rendering=rendering,
        turn_timeout_s=env_number(env, "TURN_TIMEOUT_SECONDS", defaults.turn_timeout_s, float, 1.0, 3600.0),
    )


def env_number(env: Mapping[str, str], name: str, default: N, kind: type[N], low: N, high: N | float = math.inf) -> N:
    """`env[name]` as a finite `kind` in [low, high], the default when unset; else a ConfigurationError
    that names the variable and what it accepts."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number; expected {kind.__name__}.") from None
    if not low <= value <= high or math.isinf(value):
        expected = f"at least {low}" if math.isinf(high) else f"{low} to {high}"
        raise ConfigurationError(f"{name}={raw} is out of range; expected a finite value, {expected}.")
    return value
