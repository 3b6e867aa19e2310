"""Process-wide assistants, one per configuration and event loop, the most recently used few kept.

ADK's Gemini client and the SQLite session service bind to the loop that first uses them,
so each loop (the background loop of the Streamlit app, uvicorn's loop for the API) gets
its own Assistant; the local Gemma weights are still loaded once per process. Every temperature
or token limit a visitor picks is another configuration, so each loop keeps only the
ASSISTANTS_PER_LOOP most recently used (a turn in progress keeps its own reference).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

from streaming_core.agent import build_agent
from streaming_core.assistant import Assistant
from streaming_core.backends import create_model, default_temperature, resolve_backend
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.optional_imports import remember_missing_modules
from streaming_core.settings import Settings, load_settings
from streaming_core.stores.locks import lock_factory
from streaming_core.stores.sessions import create_session_store, session_store_uri


@dataclass(frozen=True, slots=True)
class AssistantConfig:
    """Everything a page or request may vary; hashable, so it keys the cache."""

    backend: str = "auto"
    temperature: float | None = None
    max_output_tokens: int | None = None
    tools: tuple[str, ...] = ()
    script: tuple[ScriptedReply, ...] = field(default=())
    persistent: bool = True  # the configured session store; False keeps them in memory (tests)
    coalesce: bool = True  # join text deltas ready while the reader is behind; False keeps every chunk


ASSISTANTS_PER_LOOP = 8
_cache: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, OrderedDict[AssistantConfig, Assistant]] = (
    weakref.WeakKeyDictionary()
)
_cache_lock = threading.Lock()


def get_assistant(config: AssistantConfig = AssistantConfig(), settings: Settings | None = None) -> Assistant:
    """The Assistant for `config` on the running loop, built on first use; the least recently used
    one is dropped when the loop holds more than ASSISTANTS_PER_LOOP."""
    loop = asyncio.get_running_loop()
    with _cache_lock:
        per_loop = _cache.setdefault(loop, OrderedDict())
        if config in per_loop:
            per_loop.move_to_end(config)
            return per_loop[config]
        remember_missing_modules()  # the serving process's concern, not the agent's: see the module
        assistant = per_loop[config] = build_assistant(config, settings or load_settings())
        while len(per_loop) > ASSISTANTS_PER_LOOP:
            per_loop.popitem(last=False)
        return assistant


def forget_assistants(config: AssistantConfig) -> None:
    """Drops the cached assistants of `config` on every loop, so the next turn builds one from the
    environment as it is now (tests that point a configuration at another server). Turns in
    progress keep the assistant they have."""
    with _cache_lock:
        for per_loop in _cache.values():
            per_loop.pop(config, None)


def build_assistant(config: AssistantConfig, settings: Settings) -> Assistant:
    choice = resolve_backend(config.backend, settings)
    model = create_model(choice.name, settings, script=config.script)
    agent = build_agent(
        model,
        tools=config.tools,
        temperature=default_temperature(choice.name, settings) if config.temperature is None else config.temperature,
        max_output_tokens=config.max_output_tokens or settings.max_output_tokens,
    )
    service = create_session_store(session_store_uri(settings) if config.persistent else "memory://")
    locks = lock_factory(settings.run_store_url)
    return Assistant(
        agent,
        service,
        max_message_chars=settings.max_message_chars,
        locks=locks,
        backend=choice.name,
        coalesce=config.coalesce,
    )
