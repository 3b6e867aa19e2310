"""The visitor cookie: one random id per browser, set on page loads only, once when mounted."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from streaming_core.visitors import VISITOR_COOKIE, VisitorCookieMiddleware, is_valid_user_id

ROUTES: list[BaseRoute] = [
    Route("/", lambda request: HTMLResponse("<p>page</p>")),
    Route("/data", lambda request: JSONResponse({"ok": True})),
]


def with_visitors(routes: list[BaseRoute]) -> Starlette:
    return Starlette(routes=routes, middleware=[Middleware(VisitorCookieMiddleware)])


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


async def test_each_new_browser_gets_its_own_random_id_with_its_first_page() -> None:
    app = with_visitors(ROUTES)
    async with browser(app) as first, browser(app) as second:
        pages = [await first.get("/"), await second.get("/")]

    ids = [page.cookies[VISITOR_COOKIE] for page in pages]
    [header] = pages[0].headers.get_list("set-cookie")
    assert all(is_valid_user_id(i) and len(i) >= 20 for i in ids) and ids[0] != ids[1]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in header  # plain http (this test, a local demo) would drop a Secure cookie


async def test_over_https_the_cookie_is_secure() -> None:
    app = with_visitors(ROUTES)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://demo.example") as client:
        page = await client.get("/")

    assert page.headers["set-cookie"].endswith("; Secure")


async def test_api_responses_and_returning_browsers_get_no_cookie() -> None:
    async with browser(with_visitors(ROUTES)) as client:
        data = await client.get("/data")
        client.cookies.set(VISITOR_COOKIE, "known-visitor")
        returning = await client.get("/")

    assert data.headers.get_list("set-cookie") == [] == returning.headers.get_list("set-cookie")


async def test_a_mounted_app_with_the_same_middleware_sets_one_cookie() -> None:
    async with browser(with_visitors([Mount("/api", app=with_visitors(ROUTES))])) as client:
        response = await client.get("/api/")

    assert len(response.headers.get_list("set-cookie")) == 1


async def test_a_malformed_cookie_is_replaced() -> None:
    async with browser(with_visitors(ROUTES)) as client:
        client.cookies.set(VISITOR_COOKIE, "<script>")
        response = await client.get("/")

    assert is_valid_user_id(response.cookies[VISITOR_COOKIE])


async def test_a_malformed_neighbour_cookie_does_not_hide_the_visitor_id() -> None:
    async with browser(with_visitors(ROUTES)) as client:
        response = await client.get("/", headers={"cookie": 'prefs={"a": 1}; adk_user=known-visitor'})

    assert response.headers.get_list("set-cookie") == []
