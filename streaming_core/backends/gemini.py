"""Gemini backend: ADK's own Gemini model, configured only by google-genai's environment variables,
and the translation of its failures into messages a person can act on (never a key, never a traceback).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import httpx
from google.adk.models.google_llm import Gemini
from google.genai import errors as genai_errors
from google.genai import types

from streaming_core.backends import API_KEY_VARIABLES, NO_GEMINI_CREDENTIALS, gemini_credentials
from streaming_core.errors import BackendUnavailable, ModelError
from streaming_core.settings import DEFAULT_GEMINI_MODEL

_REDACTED: Final = "[redacted]"
_SECRET_PATTERNS: Final = (
    re.compile(r"(?i)([?&]key=)[^&\s'\"]+"),
    re.compile(r"(?i)(x-goog-api-key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
    re.compile(r"()AIza[0-9A-Za-z_\-]{20,}"),  # Google API key shape; empty group 1 keeps sub() uniform
)
# google-genai retries only before a response starts, so a retry never repeats streamed text.
# 429 is not retried: a quota window outlasts any wait worth making the reader sit through.
RETRY_OPTIONS: Final = types.HttpRetryOptions(
    attempts=3, initial_delay=0.25, max_delay=2.0, jitter=0.25, http_status_codes=[408, 500, 502, 503, 504]
)
_RETRY_IN_MESSAGE: Final = re.compile(r"retry in ([0-9]+(?:\.[0-9]+)?)\s*s", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ModelFailure:
    """Why a Gemini call failed. `code` is a stable slug; `message` is safe to show to anyone."""

    code: str  # quota | auth | bad_request | upstream | network | timeout | unknown
    message: str
    retryable: bool
    retry_after: float | None = None

    def to_error(self) -> ModelError:
        return ModelError(self.message, code=self.code, retryable=self.retryable, retry_after=self.retry_after)


def create_gemini(model_name: str = DEFAULT_GEMINI_MODEL) -> Gemini:
    """ADK's Gemini, unwrapped. Key, base URL and Vertex mode come from google-genai's own variables.

    No api key or base url is passed, so GOOGLE_API_KEY / GEMINI_API_KEY, GOOGLE_GEMINI_BASE_URL and
    GOOGLE_GENAI_USE_VERTEXAI keep working. ADK builds one genai client per event loop, lazily, on
    the first request, so the environment is read then, not here. See RETRY_OPTIONS for retries.
    """
    if not model_name.strip():
        raise BackendUnavailable("The Gemini model name is empty; set GEMINI_MODEL, e.g. " + DEFAULT_GEMINI_MODEL)
    if not gemini_credentials(os.environ):
        raise BackendUnavailable(NO_GEMINI_CREDENTIALS)
    return Gemini(model=model_name.strip(), retry_options=RETRY_OPTIONS)


def describe_gemini_error(exc: BaseException) -> ModelFailure:
    """Maps an exception raised while calling Gemini to a ModelFailure; unknown ones become 'unknown'."""
    for candidate in _causes(exc):
        if isinstance(candidate, ModelError):
            return ModelFailure(candidate.code, str(candidate), candidate.retryable, candidate.retry_after)
        if isinstance(candidate, genai_errors.APIError):
            return _describe_api_error(candidate)
        if isinstance(candidate, (httpx.TimeoutException, TimeoutError)):
            return ModelFailure("timeout", "Gemini did not answer in time — try again.", True)
        # google-genai streams over aiohttp (a dependency of ours); its sync client still uses httpx.
        if isinstance(candidate, (httpx.ConnectError, aiohttp.ClientConnectorError)):
            return ModelFailure(
                "network", "Could not reach Gemini — check the network or GOOGLE_GEMINI_BASE_URL.", True
            )
        if isinstance(candidate, (httpx.TransportError, aiohttp.ClientError, ConnectionError)):
            # Also raised when the stream drops before its first chunk, so "mid-answer" would mislead.
            return ModelFailure("network", "Lost the connection to Gemini before the answer ended — try again.", True)
    detail = redact_secrets(str(exc).splitlines()[0] if str(exc) else "")[:200]
    suffix = f": {detail}" if detail else ""
    return ModelFailure("unknown", f"Gemini call failed ({type(exc).__name__}){suffix}", False)


def redact_secrets(text: str) -> str:
    """Removes API key values: the configured keys themselves, `key=` params and Google key shapes."""
    for name in API_KEY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if len(value) >= 4:  # a one-letter "key" would redact every occurrence of that letter
            text = text.replace(value, _REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + _REDACTED, text)
    return text


def _describe_api_error(exc: genai_errors.APIError) -> ModelFailure:
    code, status = exc.code or 0, exc.status or ""  # code is None when an in-stream error omits it
    upstream = redact_secrets(exc.message or status or "no details")[:200]
    if code == 429:
        delay = _retry_delay(exc)
        when = f"retry in {max(1, math.ceil(delay))} s" if delay is not None else "wait a minute"
        return ModelFailure("quota", f"Gemini quota exhausted — {when} or switch to the local model.", True, delay)
    # A wrong key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID on the Gemini API, not a 401.
    if code in (401, 403) or "API_KEY_INVALID" in _reasons(exc):
        return ModelFailure("auth", "Gemini rejected the API key — check GOOGLE_API_KEY.", False)
    if code == 408:
        return ModelFailure("timeout", "Gemini did not answer in time — try again.", True)
    if code == 404:
        return ModelFailure("bad_request", f"Gemini does not know this model — check GEMINI_MODEL ({upstream}).", False)
    if 400 <= code < 500:
        return ModelFailure("bad_request", f"Gemini rejected the request: {upstream}", False)
    label = " ".join(part for part in (str(code or ""), status) if part) or "no status"
    return ModelFailure("upstream", f"Gemini had a server error ({label}) — try again shortly.", True)


def _retry_delay(exc: genai_errors.APIError) -> float | None:
    """Seconds from the google.rpc.RetryInfo detail ("17s", "0.5s"), else from the message text."""
    for detail in _details(exc):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            raw = str(detail.get("retryDelay", "")).removesuffix("s")
            try:
                return max(0.0, float(raw))
            except ValueError:
                break
    match = _RETRY_IN_MESSAGE.search(exc.message or "")
    return float(match.group(1)) if match else None


def _details(exc: genai_errors.APIError) -> list[dict[str, Any]]:
    body = exc.details if isinstance(exc.details, dict) else {}
    if isinstance(body.get("error"), dict):  # genai keeps the whole {"error": {...}} envelope
        body = body["error"]
    return [d for d in body.get("details", []) or [] if isinstance(d, dict)]


def _reasons(exc: genai_errors.APIError) -> set[str]:
    return {str(d.get("reason", "")) for d in _details(exc)}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (__cause__) and the members of single-member groups."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup) and len(current.exceptions) == 1:
            current = current.exceptions[0]
            continue
        yield current
        current = current.__cause__
