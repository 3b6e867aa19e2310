"""The per-loop assistant cache: one Assistant per configuration, the most recently used few kept."""

from __future__ import annotations

from streaming_core.runtime import ASSISTANTS_PER_LOOP, AssistantConfig, get_assistant
from streaming_core.settings import load_settings

SETTINGS = load_settings({"STREAMING_BACKEND": "scripted"})


def config(temperature: float) -> AssistantConfig:
    return AssistantConfig(backend="scripted", temperature=temperature, persistent=False)


async def test_the_same_configuration_gets_the_same_assistant() -> None:
    assert get_assistant(config(0.1), SETTINGS) is get_assistant(config(0.1), SETTINGS)


async def test_the_least_recently_used_assistant_is_dropped_past_the_bound() -> None:
    """Regression: every temperature or token limit a visitor picked added an Assistant forever."""
    first, second = get_assistant(config(0.0), SETTINGS), get_assistant(config(0.01), SETTINGS)
    for step in range(2, ASSISTANTS_PER_LOOP + 1):
        get_assistant(config(step / 100), SETTINGS)
        assert get_assistant(config(0.0), SETTINGS) is first  # used again: stays the most recent

    assert get_assistant(config(0.0), SETTINGS) is first
    assert get_assistant(config(0.01), SETTINGS) is not second  # the least recently used: rebuilt
