"""Exceptions from any backend -> StreamError with a human message and no traceback.

Failures every backend shares (a ModelError, the session store, a stale session) are described
here; anything else is described by the backend that failed (its registry record's `describe`).
"""

from __future__ import annotations

from google.adk.errors import StaleSessionError

from streaming_core.backends import backend_named, describe_unexpected
from streaming_core.errors import ModelError, SessionStoreUnavailable
from streaming_core.events import StreamError

_describe_unknown_model = describe_unexpected("model")


def describe_failure(error: BaseException, backend: str | None = None) -> StreamError:
    """The StreamError a person sees for `error`, raised while `backend` (a registry name) answered."""
    if isinstance(error, ModelError):
        return StreamError(error.code, error.message, error.retryable, error.retry_after)
    if isinstance(error, SessionStoreUnavailable):
        return StreamError("store", str(error), retryable=True)
    if isinstance(error, StaleSessionError):  # another process (or loop) wrote this conversation meanwhile
        return StreamError(
            "conflict",
            "This conversation changed in another tab or client while the answer streamed; "
            "the answer is kept — reload the conversation and continue.",
            retryable=True,
        )
    if backend is None:
        return _describe_unknown_model(error)
    return backend_named(backend).describe(error)
