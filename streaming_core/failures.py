"""Exceptions from any backend -> StreamError with a human message and no traceback."""

from __future__ import annotations

import logging

from google.adk.errors import StaleSessionError

from streaming_core.backends.gemini import describe_gemini_error
from streaming_core.errors import ModelError, SessionStoreUnavailable
from streaming_core.events import StreamError

logger = logging.getLogger(__name__)


def describe_failure(error: BaseException) -> StreamError:
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
    failure = describe_gemini_error(error)
    if failure.code == "unknown":
        logger.warning("unexpected failure inside a stream: %s", type(error).__name__)
    return StreamError(failure.code, failure.message, failure.retryable, failure.retry_after)
