"""Store URLs: the scheme that picks an implementation, and a printable form without secrets."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from streaming_core.errors import ConfigurationError


def scheme_of(url: str, variable: str, known: tuple[str, ...]) -> str:
    """The base scheme of `url` (`postgresql` for `postgresql+asyncpg://`), or a ConfigurationError
    naming `variable` and the schemes it accepts."""
    scheme, separator, _ = url.partition("://")
    base = scheme.split("+", 1)[0].lower()
    if not separator or base not in known:
        accepted = ", ".join(f"{name}://" for name in known)
        raise ConfigurationError(f"{variable}={redact(url)!r} is not a supported URL; use one of {accepted}")
    return base


def redact(url: str) -> str:
    """`url` with its password (and any query, where drivers also take secrets) replaced by ***."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rpartition("@")[2]
            netloc = f"{user}:***@{host}"
        return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))
    except ValueError:  # an unparseable URL: never echo it, it may hold a password
        return "<unparseable URL>"
