"""Exceptions from any backend -> StreamError with a human message and no traceback."""

from __future__ import annotations

import logging

from streaming_core.errors import ModelError
from streaming_core.events import StreamError

logger = logging.getLogger(__name__)


def describe_failure(error: BaseException) -> StreamError:
    if isinstance(error, ModelError):
        return StreamError(error.code, str(error), error.retryable, error.retry_after)
    from streaming_core.backends.gemini import describe_gemini_error

    failure = describe_gemini_error(error)
    if failure is not None:
        return StreamError(failure.code, failure.message, failure.retryable, failure.retry_after)
    logger.exception("unexpected failure inside a stream", exc_info=error)
    return StreamError(
        "model", f"The model failed unexpectedly ({type(error).__name__}). Try again.", retryable=True
    )
