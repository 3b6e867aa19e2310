"""The exception tree: every failure the core raises, each with a message a person can act on."""

from __future__ import annotations


class StreamingCoreError(Exception):
    """Base of every error raised by streaming_core."""


class ConfigurationError(StreamingCoreError):
    """A setting is invalid; the message names the variable and the accepted values."""


class BackendUnavailable(ConfigurationError):
    """A backend cannot start: a missing package, model file or API key."""


class UnknownBackend(ConfigurationError, KeyError):
    """A backend name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class InvalidInput(StreamingCoreError, ValueError):
    """A user message that cannot be sent: empty, too long, or containing NUL bytes."""


class UnknownSession(StreamingCoreError, LookupError):
    """A session id that does not exist for this user."""


class SessionStoreUnavailable(StreamingCoreError):
    """The conversation store (SQLite) could not be read or written, e.g. locked for too long."""


class ModelError(StreamingCoreError):
    """The model or its API failed. `code` is a stable slug; the message is for people."""

    # Every field travels in args: ADK re-creates exceptions as type(error)(*error.args).
    def __init__(
        self, message: str, code: str = "model", retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code, retryable, retry_after)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message
