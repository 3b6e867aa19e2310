"""The HTTP endpoints: /chat/stream (GET for EventSource, POST with a URL query or JSON) and
DELETE /chat/runs/{run_id} for a Stop button that should not wait for the grace period."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from streaming_core.api.requests import StreamRequest, check_query_string, parse_json_body, read_body, user_id_for
from streaming_core.api.streams import ApiContext, open_stream

QueryParam = Annotated[str | None, Query(description="The message. Required unless resuming.")]
SessionParam = Annotated[str | None, Query(description="Continue this conversation (from X-Session-Id).")]

_POST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"query": {"type": "string"}, "session_id": {"type": "string"}},
                }
            }
        },
    }
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "The answer as Server-Sent Events."},
    204: {"description": "Resumed after the end of a finished answer: nothing more to send."},
    400: {"description": "Bad input (empty, too long, NUL bytes, malformed JSON or session id)."},
    404: {"description": "Unknown session id for this user."},
    413: {"description": "Request body too large."},
    429: {"description": "Over the per-client stream or rate limit; see Retry-After."},
}


def chat_router(api: ApiContext) -> APIRouter:
    router = APIRouter(tags=["chat"])

    @router.get("/chat/stream", responses=_RESPONSES, response_class=Response)
    async def stream_get(request: Request, query: QueryParam = None, session_id: SessionParam = None) -> Response:
        """Stream an answer, for EventSource. Resumes instead when Last-Event-ID is sent."""
        check_query_string(request)
        return await open_stream(api, request, StreamRequest(query, session_id))

    @router.post("/chat/stream", responses=_RESPONSES, response_class=Response, openapi_extra=_POST_BODY)
    async def stream_post(request: Request, query: QueryParam = None, session_id: SessionParam = None) -> Response:
        """Stream an answer: `?query=` (the tutorial's form) or a JSON body `{"query", "session_id"}`."""
        check_query_string(request)
        body = await read_body(request, api.settings.max_message_chars * 4 + 4096)
        asked = parse_json_body(body) if body.strip() else StreamRequest(query, session_id)
        return await open_stream(api, request, asked)

    @router.delete("/chat/runs/{run_id}", status_code=204, response_class=Response)
    async def cancel_run(request: Request, run_id: str) -> Response:
        """Cancel a run now (the model call too); a dropped client would wait for the grace period."""
        run = await api.registry.find(run_id, user_id_for(request))
        if run is None:
            detail = "No such answer for this user; it may have finished and expired."
            return JSONResponse({"error": "unknown_run", "detail": detail}, status_code=404)
        await api.registry.cancel(run)
        return Response(status_code=204)

    return router
