"""The same app mounted under /api of another Starlette server (the one-port hosted demo)."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from streaming_core.api.app import create_app
from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings
from streaming_core.testing.servers import ServerThread
from streaming_core.testing.sse import read_sse

CONFIG = AssistantConfig(backend="scripted", persistent=False, script=(ScriptedReply(text="Mounted answer."),))


def host_with_api_under_prefix() -> Starlette:
    api = create_app(CONFIG, settings=Settings(backend="scripted"), limits=ApiLimits(ping_s=0))
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse("host app")), Mount("/api", app=api)])


async def test_mounted_api_streams_under_the_prefix() -> None:
    # A mounted app's lifespan does not run; runs must start lazily on the serving loop.
    with ServerThread(host_with_api_under_prefix()) as server:
        async with httpx.AsyncClient() as client:
            reply = await read_sse(client, "GET", f"{server.url}/api/chat/stream", params={"query": "hi"})
            health = await client.get(f"{server.url}/api/healthz")
            host = await client.get(f"{server.url}/")

    assert reply.text == "Mounted answer." and reply.events[-1].data == "[DONE]"
    assert health.json()["status"] == "ok" and host.text == "host app"


async def test_mounted_client_page_uses_relative_urls() -> None:
    with ServerThread(host_with_api_under_prefix()) as server:
        async with httpx.AsyncClient(follow_redirects=True) as client:
            page = await client.get(f"{server.url}/api")
            script = await client.get(httpx.URL(str(page.url)).join("static/client.js"))

    assert str(page.url).endswith("/api/") and page.status_code == 200
    assert script.status_code == 200 and "chat/stream?" in script.text
    assert '"/chat/stream' not in script.text  # an absolute path would miss the prefix
