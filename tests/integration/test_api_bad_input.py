"""Bad input gets a 4xx JSON error before any stream starts, and one user cannot reach another's data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings
from streaming_core.testing.servers import ApiServer
from streaming_core.testing.sse import read_sse

SETTINGS = Settings(backend="scripted", max_message_chars=200)
JSON = {"Content-Type": "application/json"}
BAD_USER = {"X-User-Id": "a b"}


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    config = AssistantConfig(backend="scripted", persistent=False, script=(ScriptedReply(text="ok"),))
    with ApiServer(config, SETTINGS, ApiLimits(max_streams_per_client=50, rate_per_minute=10_000)) as api:
        yield api


BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("missing query", {"method": "GET"}, 400, "Missing query"),
    ("empty query", {"method": "GET", "params": {"query": ""}}, 400, "empty"),
    ("whitespace query", {"method": "GET", "params": {"query": " \t\n "}}, 400, "empty"),
    ("too long", {"method": "GET", "params": {"query": "x" * 201}}, 400, "limit is 200"),
    ("NUL in URL", {"method": "GET", "params": {"query": "a\x00b"}}, 400, "NUL"),
    ("bad UTF-8 in URL", {"method": "GET", "url_suffix": "?query=%FF%FEhi"}, 400, "not valid UTF-8"),
    ("malformed session id", {"method": "GET", "params": {"query": "hi", "session_id": "../etc"}}, 400, "session id"),
    ("unknown session id", {"method": "GET", "params": {"query": "hi", "session_id": "nope"}}, 404, "No conversation"),
    (
        "malformed user id",
        {"method": "GET", "params": {"query": "hi"}, "headers": {"X-User-Id": "a b"}},
        400,
        "user id",
    ),
    ("POST without query", {"method": "POST"}, 400, "Missing query"),
    ("malformed JSON", {"method": "POST", "content": b'{"query": ', "headers": JSON}, 400, "Malformed JSON"),
    ("JSON not an object", {"method": "POST", "content": b'["hi"]', "headers": JSON}, 400, "must be an object"),
    ("JSON query not text", {"method": "POST", "json": {"query": 42}}, 400, '"query" must be a string'),
    ("JSON without query", {"method": "POST", "json": {"session_id": "abc"}}, 400, "Missing query"),
    ("JSON NUL escape", {"method": "POST", "json": {"query": "a\u0000b"}}, 400, "NUL"),
    ("raw NUL in JSON", {"method": "POST", "content": b'{"query": "a\x00b"}', "headers": JSON}, 400, "Malformed JSON"),
    (
        "bad UTF-8 body",
        {"method": "POST", "content": b'{"query": "\xff\xfe"}', "headers": JSON},
        400,
        "not valid UTF-8",
    ),
    ("1 MB body", {"method": "POST", "json": {"query": "x" * 1_000_000}}, 413, "limit is"),
    ("JSON too long", {"method": "POST", "json": {"query": "é" * 201}}, 400, "limit is 200"),
]


@pytest.mark.parametrize(("name", "request_kwargs", "status", "detail"), BAD_REQUESTS, ids=[r[0] for r in BAD_REQUESTS])
def test_bad_input_is_refused_with_json_before_any_stream(
    server: ApiServer, name: str, request_kwargs: dict[str, Any], status: int, detail: str
) -> None:
    kwargs = dict(request_kwargs)
    url = f"{server.url}/chat/stream{kwargs.pop('url_suffix', '')}"
    started_before = server.model().log.started

    response = httpx.request(kwargs.pop("method"), url, **kwargs)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert detail in body["detail"] and "Traceback" not in body["detail"]
    assert server.model().log.started == started_before


async def test_one_user_cannot_continue_another_users_session(server: ApiServer) -> None:
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        alice = await read_sse(client, "GET", url, params={"query": "secret"}, headers={"X-User-Id": "alice"})
        session_id = alice.headers["x-session-id"]
        mallory = await client.get(
            url, params={"query": "hi", "session_id": session_id}, headers={"X-User-Id": "mallory"}
        )
        anonymous = await client.get(url, params={"query": "hi", "session_id": session_id})
        again = await read_sse(
            client, "GET", url, params={"query": "more", "session_id": session_id}, headers={"X-User-Id": "alice"}
        )

    assert (mallory.status_code, anonymous.status_code) == (404, 404)
    assert "secret" not in mallory.text
    assert again.headers["x-session-id"] == session_id


async def test_the_user_cookie_scopes_sessions_like_the_header(server: ApiServer) -> None:
    url = f"{server.url}/chat/stream"
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{server.url}/")  # sets the adk_user cookie
        first = await read_sse(client, "GET", url, params={"query": "hi"})
        session_id = first.headers["x-session-id"]
        same_browser = await read_sse(client, "GET", url, params={"query": "again", "session_id": session_id})
    async with httpx.AsyncClient() as stranger:
        other = await stranger.get(url, params={"query": "hi", "session_id": session_id})

    assert "adk_user" in page.cookies
    assert same_browser.status_code == 200 and other.status_code == 404


def test_session_ids_are_unguessable(server: ApiServer) -> None:
    with httpx.stream("GET", f"{server.url}/chat/stream", params={"query": "hi"}) as response:
        session_id = response.headers["x-session-id"]
        run_id = response.headers["x-run-id"]

    assert len(session_id) >= 32 and len(run_id) >= 20  # uuid4 and 128-bit random tokens


def test_head_and_other_methods_do_not_start_a_stream(server: ApiServer) -> None:
    # Told apart by their text: an earlier test's run may still reach the model meanwhile.
    head = httpx.head(f"{server.url}/chat/stream", params={"query": "by head"})
    put = httpx.put(f"{server.url}/chat/stream", params={"query": "by put"})
    with httpx.stream("GET", f"{server.url}/chat/stream", params={"query": "by get"}) as after:
        after.read()  # a whole turn later, a run the refused requests had started would have asked too

    asked = {part.text for request in server.model().log.requests for part in request.contents[-1].parts or ()}
    assert (head.status_code, put.status_code) == (405, 405)
    assert "by get" in asked and not asked & {"by head", "by put"}
