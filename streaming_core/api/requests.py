"""What a stream request asks for: query and session id (URL or JSON body), the user and the client.

Everything here raises InvalidInput (400) or PayloadTooLarge (413) before any stream starts.

The user id, which scopes sessions and runs, is the `X-User-Id` header, else the `adk_user`
visitor cookie (set on a browser's first page by streaming_core.visitors), else DEFAULT_USER
("demo-user") for cookie-less clients such as curl. It keeps visitors apart; it is not authentication.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import Request

from streaming_core.errors import InvalidInput
from streaming_core.visitors import DEFAULT_USER, VISITOR_COOKIE, is_valid_user_id

USER_HEADER = "X-User-Id"


class PayloadTooLarge(InvalidInput):
    """A request body over the size limit; answered with 413 before it is read in full."""


@dataclass(frozen=True, slots=True)
class StreamRequest:
    query: str | None
    session_id: str | None


def user_id_for(request: Request) -> str:
    raw = request.headers.get(USER_HEADER) or request.cookies.get(VISITOR_COOKIE) or DEFAULT_USER
    if not is_valid_user_id(raw):
        raise InvalidInput(f"Malformed user id: {USER_HEADER} takes 1 to 64 letters, digits or . _ @ -.")
    return raw


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_query_string(request: Request) -> None:
    """Starlette decodes bad UTF-8 in the URL to U+FFFD silently; refuse it instead."""
    raw: bytes = request.scope.get("query_string", b"")
    if any(byte >= 0x80 for byte in raw):
        raise InvalidInput("The URL contains raw non-ASCII bytes; percent-encode the query.")
    for pair in raw.split(b"&"):
        try:
            unquote_to_bytes(pair.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("The URL's query is not valid UTF-8 once percent-decoded.") from None


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(_too_large(int(declared), max_bytes))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(_too_large(len(body), max_bytes))
    return bytes(body)


def parse_json_body(body: bytes) -> StreamRequest:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The request body is not valid UTF-8.") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"Malformed JSON: {error.msg} at line {error.lineno} column {error.colno}.") from None
    if not isinstance(data, dict):
        raise InvalidInput('The JSON body must be an object such as {"query": "Hello"}.')
    return StreamRequest(_optional_text(data, "query"), _optional_text(data, "session_id"))


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f'"{key}" must be a string.')
    return value


def _too_large(size: int, limit: int) -> str:
    return f"The request body is {size:,} bytes or more; the limit is {limit:,}. Send a shorter message."
