"""The FastAPI app factory: SSE chat endpoints, health, CORS, errors as JSON and the client page.

Run it with `python -m streaming_core.api` (`make api`, uvicorn with this factory), or mount the
app it returns under a prefix of another Starlette server: every URL the page uses is relative.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from streaming_core.api.limits import LOCALHOST_ORIGINS, ApiLimits, ClientLimiter, TooManyRequests, load_limits
from streaming_core.api.metrics import metrics_router
from streaming_core.api.requests import USER_HEADER, PayloadTooLarge
from streaming_core.api.routes import ApiContext, chat_router
from streaming_core.api.runs import RegistryFull
from streaming_core.backends import resolve_backend
from streaming_core.backends.availability import local_unavailable_reason
from streaming_core.errors import ConfigurationError, InvalidInput, SessionStoreUnavailable, UnknownSession
from streaming_core.quotas import QuotaExceeded, QuotaStoreUnavailable, get_limiter
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings, load_settings
from streaming_core.stores.runs import RunStoreUnavailable
from streaming_core.stores.sessions import check_session_store_reachable
from streaming_core.tools import DEMO_TOOLS
from streaming_core.visitors import VisitorCookieMiddleware

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]

STATIC_DIR = Path(__file__).resolve().parent / "static"  # package data: shipped in the wheel

# The page loads only its own script and talks only to its own origin; model text is
# inserted with textContent, and this is the second line of defence against injection.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(
    config: AssistantConfig | None = None,
    *,
    settings: Settings | None = None,
    limits: ApiLimits | None = None,
) -> FastAPI:
    settings = settings or load_settings()
    limits = limits or load_limits()
    config = config or AssistantConfig(backend=settings.backend, tools=DEMO_TOOLS)
    # The request rate lives with the visitor quotas: in Redis, when RUN_STORE_URL names one, for every worker.
    api = ApiContext(config, settings, limits, ClientLimiter(limits, store=get_limiter().store))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if config.persistent:
            await check_session_store_reachable(settings)
        await api.open()
        yield
        await api.aclose()  # no run task outlives the app

    app = FastAPI(
        title="ADK Streaming Lab API",
        summary="Answers from an ADK agent streamed as Server-Sent Events.",
        lifespan=lifespan,
    )
    app.state.api = api
    _add_cors(app, limits)
    app.add_middleware(VisitorCookieMiddleware)  # a user of its own for each browser
    _add_error_handlers(app, limits)
    app.include_router(chat_router(api))
    app.include_router(metrics_router(limits.metrics_token))

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, object]:
        """Liveness, the backend in use and why (503 if it is misconfigured), open runs, and whether
        the local model can run here (and why not)."""
        backend = resolve_backend(config.backend, settings)
        local = local_unavailable_reason(settings)
        return {
            "status": "ok",
            "backend": backend.name,
            "reason": backend.reason,
            "runs": await api.registry.count(),
            "local_model": {"available": local is None, "reason": local},
        }

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def lifespan_of(api: FastAPI) -> Callable[[object], AbstractAsyncContextManager[None]]:
    """The API's own start-up and shutdown, for the server it is mounted on: Starlette runs only
    the outer app's lifespan, and without this open runs would outlive a shutdown."""

    @asynccontextmanager
    async def lifespan(host: object) -> AsyncIterator[None]:
        async with api.router.lifespan_context(api):
            yield

    return lifespan


def _add_cors(app: FastAPI, limits: ApiLimits) -> None:
    origins = list(limits.cors_origins)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_origin_regex=None if origins else LOCALHOST_ORIGINS,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Content-Type", "Last-Event-ID", USER_HEADER],
        expose_headers=["X-Session-Id", "X-Run-Id", "Retry-After"],
    )


def _add_error_handlers(app: FastAPI, limits: ApiLimits) -> None:
    """Every refusal is JSON `{"error": code, "detail": message}`, sent before any stream."""

    def refuse(status: int, code: str, retry_after: float | None = None) -> ErrorHandler:
        async def handler(request: Request, error: Exception) -> JSONResponse:
            headers = {} if retry_after is None else {"Retry-After": str(round(retry_after))}
            body = {"error": code, "detail": str(error)}
            if isinstance(error, (TooManyRequests, QuotaExceeded)):
                headers = {"Retry-After": str(error.retry_after)}
            if isinstance(error, QuotaExceeded):
                body["limit"] = error.limit  # which one: a client can offer another backend for daily_budget
            return JSONResponse(body, status_code=status, headers=headers)

        return handler

    app.add_exception_handler(InvalidInput, refuse(400, "invalid_input"))
    app.add_exception_handler(PayloadTooLarge, refuse(413, "too_large"))
    app.add_exception_handler(UnknownSession, refuse(404, "unknown_session"))
    app.add_exception_handler(TooManyRequests, refuse(429, "too_many_requests"))
    app.add_exception_handler(QuotaExceeded, refuse(429, "quota_exceeded"))
    app.add_exception_handler(QuotaStoreUnavailable, refuse(503, "quota_store_unavailable", retry_after=5))
    app.add_exception_handler(RegistryFull, refuse(503, "busy", retry_after=max(1.0, limits.grace_s)))
    app.add_exception_handler(ConfigurationError, refuse(503, "backend_unavailable"))
    app.add_exception_handler(SessionStoreUnavailable, refuse(503, "store_unavailable", retry_after=5))
    app.add_exception_handler(RunStoreUnavailable, refuse(503, "store_unavailable", retry_after=5))
