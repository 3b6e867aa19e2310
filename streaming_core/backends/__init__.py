"""Every model backend in one registry: name, label, factory, "is it configured?" and how its failures
read. Settings, the sidebar, /healthz and agents/ all read `BACKENDS`; `auto` picks the first
configured backend of `AUTO_ORDER`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streaming_core.backends.availability import load_local_model, local_unavailable_reason
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.errors import BackendUnavailable, UnknownBackend
from streaming_core.events import StreamError

if TYPE_CHECKING:
    from google.adk.models.base_llm import BaseLlm

    from streaming_core.settings import Settings

logger = logging.getLogger(__name__)

AUTO = "auto"
API_KEY_VARIABLES = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
# google-genai reads these itself; GOOGLE_GENAI_USE_ENTERPRISE wins when both are set.
VERTEX_VARIABLES = ("GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_USE_VERTEXAI")
GEMINI_KEY_VARIABLES = API_KEY_VARIABLES + VERTEX_VARIABLES  # every variable that can make Gemini usable
NO_GEMINI_CREDENTIALS = (
    "The Gemini backend needs an API key: set GOOGLE_API_KEY (or GEMINI_API_KEY), or put it in "
    ".streamlit/secrets.toml; for Vertex AI set GOOGLE_GENAI_USE_VERTEXAI=true with a Google Cloud project."
)


def gemini_credentials(env: Mapping[str, str]) -> bool:
    """Whether google-genai will find credentials in `env`: a non-empty API key, or Vertex AI switched on.

    The switch is parsed exactly as google-genai 2.34 parses it (`_api_client.BaseApiClient`): only
    "true" or "1", any case, no stripping; so GOOGLE_GENAI_USE_VERTEXAI=false selects the Gemini API,
    which then needs a key. GOOGLE_GENAI_USE_ENTERPRISE, when set, decides alone.
    """
    if any(env.get(name, "").strip() for name in API_KEY_VARIABLES):
        return True
    switch = next((env[name] for name in VERTEX_VARIABLES if name in env), "")
    return switch.lower() in ("true", "1")


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether a backend can run with these settings, and why: shown in the sidebar and /healthz."""

    configured: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Backend:
    """One model backend. `create` builds its ADK model (the script is the scripted model's replies);
    `readiness` says whether the settings let it run; `describe` turns a failure nothing else
    recognised into a message that names this backend; `temperature` is its sampling temperature
    when neither TEMPERATURE nor the page sets one."""

    name: str
    label: str
    create: Callable[[Settings, Sequence[ScriptedReply]], BaseLlm]
    readiness: Callable[[Settings], Readiness]
    describe: Callable[[BaseException], StreamError]
    temperature: float = 0.7


def default_temperature(name: str, settings: Settings) -> float:
    """TEMPERATURE when set, else the backend's own default."""
    return backend_named(name).temperature if settings.temperature is None else settings.temperature


@dataclass(frozen=True, slots=True)
class BackendChoice:
    """The backend a request resolved to, and why (for the sidebar, /healthz and the logs)."""

    name: str
    reason: str

    @property
    def label(self) -> str:
        return BACKENDS[self.name].label


def resolve_backend(requested: str, settings: Settings) -> BackendChoice:
    """Turns `auto` into the first configured backend of AUTO_ORDER (the scripted model when the local one
    cannot run); a named backend must be configured."""
    if requested == AUTO:
        for name in AUTO_ORDER:
            readiness = BACKENDS[name].readiness(settings)
            if readiness.configured:
                return BackendChoice(name, readiness.reason)
        # No model can run (no key, no llama.cpp): the scripted model stands in and the sidebar says why.
        return BackendChoice("scripted", f"no API key and no local model, so the scripted model. {readiness.reason}")
    backend = backend_named(requested)
    readiness = backend.readiness(settings)
    if not readiness.configured:
        raise BackendUnavailable(readiness.reason)
    return BackendChoice(backend.name, f"{backend.label} selected")


def backend_named(name: str) -> Backend:
    """The registry's record for `name`; UnknownBackend lists the valid names."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise UnknownBackend(f"Unknown backend {name!r}; choose one of {', '.join(BACKEND_CHOICES)}.") from None


def create_model(name: str, settings: Settings, *, script: Sequence[ScriptedReply] = ()) -> BaseLlm:
    """Builds the backend's ADK model. Local Gemma is loaded once per process."""
    return backend_named(name).create(settings, script)


def requests_ahead(model: BaseLlm | str) -> int:
    """Requests a one-at-a-time model (local Gemma) serves before a new one: the running one and
    those queued. 0 for models that take requests concurrently."""
    waiting = getattr(model, "waiting_requests", None)
    busy = getattr(model, "is_busy", None)
    if waiting is None or busy is None:
        return 0
    return int(waiting()) + int(bool(busy()))


def describe_unexpected(label: str) -> Callable[[BaseException], StreamError]:
    """A backend's fallback description: names the backend and the exception type, never a traceback."""

    def describe(error: BaseException) -> StreamError:
        logger.warning("unexpected failure of the %s: %s", label, type(error).__name__)
        return StreamError("unknown", f"The {label} failed ({type(error).__name__}).")

    return describe


def _create_gemini(settings: Settings, script: Sequence[ScriptedReply]) -> BaseLlm:
    from streaming_core.backends.gemini import create_gemini

    return create_gemini(settings.gemini_model)


def _gemini_readiness(settings: Settings) -> Readiness:
    if settings.gemini_configured:
        return Readiness(True, f"API key found: using Gemini ({settings.gemini_model})")
    return Readiness(False, NO_GEMINI_CREDENTIALS)


def _describe_gemini(error: BaseException) -> StreamError:
    from streaming_core.backends.gemini import describe_gemini_error

    failure = describe_gemini_error(error)
    if failure.code == "unknown":
        logger.warning("unexpected failure of Gemini: %s", type(error).__name__)
    return StreamError(failure.code, failure.message, failure.retryable, failure.retry_after)


def _local_readiness(settings: Settings) -> Readiness:
    if (unavailable := local_unavailable_reason(settings)) is not None:
        return Readiness(False, f"The local model is unavailable: {unavailable}.")
    return Readiness(True, f"no API key: using {_LOCAL_LABEL}")


def _create_local(settings: Settings, script: Sequence[ScriptedReply]) -> BaseLlm:
    return load_local_model(settings)


def _create_scripted(settings: Settings, script: Sequence[ScriptedReply]) -> BaseLlm:
    return ScriptedLlm(replies=tuple(script or (ScriptedReply(),)))


def _always(reason: str) -> Callable[[Settings], Readiness]:
    return lambda settings: Readiness(True, reason)


_LOCAL_LABEL = "local Gemma 3 270M"
_SCRIPTED_LABEL = "scripted model"
BACKENDS: Mapping[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend("gemini", "Gemini", _create_gemini, _gemini_readiness, _describe_gemini),
        Backend(
            "local",
            _LOCAL_LABEL,
            _create_local,
            _local_readiness,
            describe_unexpected(_LOCAL_LABEL),
            # The base model answers best greedy: at 0.7 even "Count to 10" depends on the seed
            # (docs/evals.md), so the offline default passes the tutorial's own tests.
            temperature=0.0,
        ),
        Backend(
            "scripted",
            _SCRIPTED_LABEL,
            _create_scripted,
            _always("deterministic replies, no model"),
            describe_unexpected(_SCRIPTED_LABEL),
        ),
    )
}
AUTO_ORDER = ("gemini", "local")
BACKEND_CHOICES = (AUTO, *BACKENDS)  # what STREAMING_BACKEND and the sidebar accept

__all__ = [
    "AUTO",
    "BACKENDS",
    "BACKEND_CHOICES",
    "GEMINI_KEY_VARIABLES",
    "Backend",
    "BackendChoice",
    "Readiness",
    "backend_named",
    "create_model",
    "default_temperature",
    "gemini_credentials",
    "requests_ahead",
    "resolve_backend",
]
