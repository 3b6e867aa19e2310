"""RunStreamResponse's watchdog: a client that stops reading is dropped, a slow one is not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sse_starlette.sse import SendTimeoutError
from starlette.types import Message, Send

from streaming_core.api.streams import RunStreamResponse


async def chunks(count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"data: x\n\n"


async def connected() -> Message:
    await asyncio.Event().wait()  # the client never disconnects
    return {"type": "http.disconnect"}


async def serve(streaming: RunStreamResponse, send: Send) -> None:
    await asyncio.wait_for(streaming({"type": "http", "method": "GET"}, connected, send), 30)


async def test_a_send_that_never_completes_fails_as_a_send_timeout_and_closes() -> None:
    closed: list[bool] = []
    streaming = RunStreamResponse(chunks(1), on_close=lambda: closed.append(True), stuck_after_s=0.05, ping=0)

    async def stuck_client(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("more_body"):
            await asyncio.Event().wait()  # the socket's buffers are full: the client reads nothing

    with pytest.raises(SendTimeoutError):
        await serve(streaming, stuck_client)
    assert closed == [True]


async def test_sends_that_complete_within_a_period_are_never_cut() -> None:
    streaming = RunStreamResponse(chunks(20), on_close=lambda: None, stuck_after_s=1.0, ping=0)
    bodies: list[bytes] = []

    async def slow_client(message: Message) -> None:
        await asyncio.sleep(0.01)  # each write takes a while, but every one completes
        bodies.append(message.get("body", b""))

    await serve(streaming, slow_client)

    assert bodies.count(b"data: x\n\n") == 20 and bodies[-1] == b""


async def test_a_cancel_from_elsewhere_stays_a_cancel() -> None:
    streaming = RunStreamResponse(chunks(1), on_close=lambda: None, stuck_after_s=0.05, ping=0)

    async def stuck_client(message: Message) -> None:
        await asyncio.Event().wait()

    serving = asyncio.create_task(serve(streaming, stuck_client))
    await asyncio.sleep(0)
    serving.cancel()

    with pytest.raises(asyncio.CancelledError):
        await serving
