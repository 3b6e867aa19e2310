"""Model backends by name: which one `auto` picks, and a factory for each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from google.adk.models.base_llm import BaseLlm

from streaming_core.backends.availability import load_local_model, local_unavailable_reason
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.errors import BackendUnavailable, UnknownBackend
from streaming_core.settings import GEMINI_KEY_VARIABLES, Settings

BACKENDS = ("gemini", "local", "scripted")
LABELS = {"gemini": "Gemini", "local": "local Gemma 3 270M", "scripted": "scripted model"}


@dataclass(frozen=True, slots=True)
class BackendChoice:
    name: str
    reason: str

    @property
    def label(self) -> str:
        return LABELS[self.name]


def resolve_backend(requested: str, settings: Settings) -> BackendChoice:
    """Turns `auto` into a concrete backend and says why, for the sidebar and the logs."""
    if requested == "auto":
        if settings.gemini_configured:
            return BackendChoice("gemini", f"API key found: using Gemini ({settings.gemini_model})")
        if (unavailable := local_unavailable_reason(settings)) is not None:
            return BackendChoice("scripted", f"no API key and no local model, so the scripted model: {unavailable}")
        return BackendChoice("local", "no API key: using local Gemma 3 270M")
    if requested not in BACKENDS:
        raise UnknownBackend(f"Unknown backend {requested!r}; choose one of auto, {', '.join(BACKENDS)}.")
    if requested == "gemini" and not settings.gemini_configured:
        raise BackendUnavailable(
            "The Gemini backend needs an API key: set GOOGLE_API_KEY (or GEMINI_API_KEY), "
            "or put it in .streamlit/secrets.toml."
        )
    if requested == "local" and (unavailable := local_unavailable_reason(settings)) is not None:
        raise BackendUnavailable(f"The local model is unavailable: {unavailable}.")
    return BackendChoice(requested, f"{LABELS[requested]} selected")


def requests_ahead(model: BaseLlm | str) -> int:
    """Requests a one-at-a-time model (local Gemma) serves before a new one: the running one and
    those queued. 0 for models that take requests concurrently."""
    waiting = getattr(model, "waiting_requests", None)
    busy = getattr(model, "is_busy", None)
    if waiting is None or busy is None:
        return 0
    return int(waiting()) + int(bool(busy()))


def create_model(name: str, settings: Settings, *, script: Sequence[ScriptedReply] | None = None) -> BaseLlm:
    """Builds the backend's ADK model. Local Gemma is loaded once per process."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise UnknownBackend(f"Unknown backend {name!r}; choose one of {', '.join(BACKENDS)}.")
    if name == "scripted":
        return ScriptedLlm(replies=tuple(script or (ScriptedReply(),)))
    return factory(settings)


def _gemini(settings: Settings) -> BaseLlm:
    from streaming_core.backends.gemini import create_gemini

    return create_gemini(settings.gemini_model)


_FACTORIES: dict[str, Callable[[Settings], BaseLlm]] = {
    "gemini": _gemini,
    "local": load_local_model,
    "scripted": lambda settings: ScriptedLlm(),
}

__all__ = ["BACKENDS", "GEMINI_KEY_VARIABLES", "BackendChoice", "create_model", "requests_ahead", "resolve_backend"]
