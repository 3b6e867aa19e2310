"""Who is asking: a user id per browser, so visitors of a shared demo never see each other's
conversations. One cookie serves the pages and the API, so both show a browser the same ones.

It separates visitors; it is not authentication: behind a login, derive the id from that.
"""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

VISITOR_COOKIE = "adk_user"
# Whose conversations a caller that names no user gets: library calls, and API clients that send
# neither X-User-Id nor the visitor cookie (curl). Pages always have a visitor id.
DEFAULT_USER = "demo-user"
_GIVEN = "adk_visitor_given"  # scope key: an outer server already gave this request a cookie
_USER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def is_valid_user_id(raw: str) -> bool:
    return _USER_ID.fullmatch(raw) is not None


def new_user_id() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits: not guessable, so not borrowable


def visitor_cookie_header(user_id: str, *, secure: bool) -> str:
    # user ids are URL-safe base64: nothing in them needs quoting in a cookie.
    # Lax, not Strict: a visitor arriving from a link on another site must keep their id (Strict
    # withholds the cookie on that page load, and a new id would orphan their conversations).
    header = f"{VISITOR_COOKIE}={user_id}; Path=/; Max-Age={400 * 24 * 3600}; HttpOnly; SameSite=Lax"
    return header + "; Secure" if secure else header


class VisitorCookieMiddleware:
    """Gives every browser without a valid visitor cookie a new random one with its first page
    (an HTML response), so its websocket and API requests that follow carry it. Used on
    the Streamlit server and on the API; when the API is mounted there, only the outer one acts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's lenient parser, as the API and Streamlit read cookies: http.cookies stops
        # at the first malformed cookie and would hide a valid visitor id behind it.
        if scope["type"] != "http" or _GIVEN in scope or is_valid_user_id(_cookie(scope)):
            await self.app(scope, receive, send)
            return
        scope[_GIVEN] = True
        header = visitor_cookie_header(new_user_id(), secure=scope.get("scheme") == "https")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # Page loads only: a script calling the API with a cookie jar would otherwise
                # change identity between its first request and the next.
                if headers.get("content-type", "").startswith("text/html"):
                    headers.append("set-cookie", header)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cookie(scope: Scope) -> str:
    return cookie_parser(Headers(scope=scope).get("cookie", "")).get(VISITOR_COOKIE, "")
