"""GET /metrics: the Prometheus text format, for the demo's owner only.

With METRICS_TOKEN set, a scraper sends `Authorization: Bearer <token>`; without one, only
loopback clients are answered (a scraper on the same host, or an SSH tunnel). Behind a proxy,
run uvicorn with --proxy-headers, or every visitor would look like the proxy's loopback address.
"""

from __future__ import annotations

import ipaddress
import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from streaming_core import telemetry
from streaming_core.quotas import get_limiter


def metrics_router(token: str | None) -> APIRouter:
    router = APIRouter(tags=["meta"])

    @router.get("/metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        """Turns, timings, streams, quota refusals and tokens (METRICS_TOKEN or loopback only)."""
        if refusal := _refusal(request, token):
            return refusal
        limiter = get_limiter()
        body = telemetry.exposition(await limiter.spent_today(), limiter.limits.gemini_daily_budget)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router


def _refusal(request: Request, token: str | None) -> Response | None:
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode()):
            return None
        detail = "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>."
        return JSONResponse({"error": "unauthorized", "detail": detail}, 401, {"WWW-Authenticate": "Bearer"})
    if _is_loopback(request.client.host if request.client else ""):
        return None
    detail = "Metrics are served to this host only; set METRICS_TOKEN to scrape them from elsewhere."
    return JSONResponse({"error": "forbidden", "detail": detail}, 403)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
