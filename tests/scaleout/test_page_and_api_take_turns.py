"""A page process (the sync core on its background loop, as Streamlit runs it) and an API worker
process on one conversation take turns through the Redis conversation lock: the later turn is
queued, not refused as a conflict, and both are kept in order."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.events import Done, Heartbeat, Queued, StreamEvent, TextDelta
from streaming_core.runtime import AssistantConfig
from streaming_core.sync_api import call_assistant, stream_turn_sync
from streaming_core.testing.cluster import Cluster, Stores
from streaming_core.testing.sse import read_sse
from streaming_core.visitors import DEFAULT_USER

SLOW = ScriptedReply(text="The API answers slowly.", chunk_size=3, chunk_delay=0.15)
PAGE = AssistantConfig(backend="scripted", script=(ScriptedReply(text="The page answers.", chunk_size=4),))


async def test_a_page_turn_waits_for_the_api_turn_on_the_same_conversation(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page process reads its stores from the environment, as the Streamlit app does.
    monkeypatch.setenv("STREAMING_BACKEND", "scripted")
    monkeypatch.setenv("RUN_STORE_URL", stores.run_store_url)
    monkeypatch.setenv("SESSION_SERVICE_URI", stores.session_service_uri)
    limits = ApiLimits(max_streams_per_client=50, rate_per_minute=1000, ping_s=0)
    with Cluster((SLOW,), stores, limits=limits, workers=1) as cluster:
        async with httpx.AsyncClient() as client:
            url = f"{cluster.url}/chat/stream"
            first = await read_sse(client, "GET", url, params={"query": "API question"}, limit=2)
            session_id = first.headers["x-session-id"]

            def page_turn() -> list[StreamEvent]:
                turn = stream_turn_sync("Page question", PAGE, session_id=session_id, user_id=DEFAULT_USER)
                return [event for event in turn if not isinstance(event, Heartbeat)]

            page_events = await asyncio.to_thread(page_turn)
            api_rest = await read_sse(client, "GET", url, headers={"Last-Event-ID": first.events[-1].id})

    assert isinstance(page_events[0], Queued) and page_events[0].reason == "conversation_busy"
    assert "".join(e.text for e in page_events if isinstance(e, TextDelta)) == "The page answers."
    assert isinstance(page_events[-1], Done) and page_events[-1].status == "completed"
    assert first.text + api_rest.text == "The API answers slowly."
    history = call_assistant(PAGE, lambda assistant: assistant.history(session_id, DEFAULT_USER))
    assert [(m.role, m.text) for m in history] == [
        ("user", "API question"),
        ("assistant", "The API answers slowly."),
        ("user", "Page question"),
        ("assistant", "The page answers."),
    ]
