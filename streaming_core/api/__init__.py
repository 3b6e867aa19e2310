"""The SSE web API: `create_app()` serves /chat/stream, /healthz, /docs and the browser client."""

from __future__ import annotations

from streaming_core.api.app import create_app

__all__ = ["create_app"]
