"""Starting and resuming SSE streams of runs, with admission control; shared by the routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.types import Message, Receive, Scope, Send

from streaming_core.api.buffer import ResumeGap
from streaming_core.api.encoding import END, encode_item
from streaming_core.api.limits import ApiLimits, ClientLimiter, visitor_key
from streaming_core.api.requests import StreamRequest, client_key, user_id_for
from streaming_core.api.runs import EventId
from streaming_core.backends import resolve_backend
from streaming_core.errors import InvalidInput
from streaming_core.events import StreamError
from streaming_core.quotas import GuardedTurn, admit_turn
from streaming_core.runtime import AssistantConfig, get_assistant
from streaming_core.sessions import keep_interrupted
from streaming_core.settings import Settings
from streaming_core.stores.redis_events import StoredEvent
from streaming_core.stores.runs import RunHandle, RunSettings, RunStore, RunStoreUnavailable, create_run_store

GONE = "gone"  # the seq of the error sent for an unknown run; resuming from it gets 204


@dataclass
class ApiContext:
    """What the endpoints share: the assistant configuration, the limits and the runs."""

    config: AssistantConfig
    settings: Settings
    limits: ApiLimits
    limiter: ClientLimiter
    _registry: RunStore | None = field(default=None, repr=False)
    _renewals: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def registry(self) -> RunStore:
        # Created on first use, on the serving loop: its tasks, timers and connections belong to that loop.
        if self._registry is None:
            limits = self.limits
            self._registry = create_run_store(
                self.settings.run_store_url,
                RunSettings(limits.grace_s, limits.buffer_events, limits.max_runs, limits.turn_timeout_s),
            )
        return self._registry

    async def open(self) -> None:
        """Connects the run store, which from then on also takes over the runs of dead workers, and
        starts renewing the open streams' slots."""
        await self.registry.open(self._keep_partial)
        self._renewals = asyncio.create_task(self.limiter.keep_alive(), name="stream-slot-renewals")

    async def _keep_partial(self, app_name: str, user_id: str, session_id: str, author: str, text: str) -> None:
        service = get_assistant(self.config, self.settings).session_service
        await keep_interrupted(service, (app_name, user_id, session_id), author, text, "stopped")

    async def aclose(self) -> None:
        if self._registry is not None:
            await self._registry.aclose()
        if self._renewals is not None:
            self._renewals.cancel()
            await asyncio.gather(self._renewals, return_exceptions=True)


async def open_stream(api: ApiContext, request: Request, asked: StreamRequest) -> Response:
    client, user = client_key(request), user_id_for(request)
    await api.limiter.check_rate(client)
    last_event_id = request.headers.get("last-event-id")
    if last_event_id:
        return await resume_stream(api, client, user, last_event_id)
    if asked.query is None:
        raise InvalidInput('Missing query: pass ?query=... or a JSON body with a "query" field.')
    await api.registry.check_capacity()
    close_slot = await api.limiter.open_stream(client)
    admission = None
    try:
        backend = resolve_backend(api.config.backend, api.settings).name
        admission = await admit_turn(visitor_key(request), backend)  # before open_turn: a refusal creates no session
        assistant = get_assistant(api.config, api.settings)
        turn = await assistant.open_turn(asked.query, session_id=asked.session_id, user_id=user)
        run = await api.registry.start(GuardedTurn.of(turn, backend, admission), user)
    except BaseException:
        close_slot()
        if admission is not None:
            await admission.release()
        raise
    return run_response(api, run, 0, close_slot)


async def resume_stream(api: ApiContext, client: str, user: str, raw_id: str) -> Response:
    event_id = EventId.parse(raw_id)
    run = await api.registry.find(event_id.run_id, user) if event_id else None
    if raw_id.endswith(f":{GONE}") or (run and run.finished and event_id and event_id.seq >= run.last_seq):
        # 204 is the one answer that stops EventSource reconnecting by itself.
        return Response(status_code=204)
    if run is None or event_id is None or event_id.seq > run.last_seq:
        return gone_response(api, raw_id)
    return run_response(api, run, event_id.seq, await api.limiter.open_stream(client))


def run_response(api: ApiContext, run: RunHandle, after: int, close_slot: Callable[[], None]) -> Response:
    run.attach()

    def on_close() -> None:
        run.detach()  # the last client leaving starts the grace period
        close_slot()

    return RunStreamResponse(
        run_events(run, after, api.limits.retry_ms),
        on_close=on_close,
        headers={"X-Session-Id": run.session_id, "X-Run-Id": run.id},
        ping=api.limits.ping_s,
        stuck_after_s=api.limits.send_timeout_s,
    )


async def run_events(run: RunHandle, after: int, retry_ms: int) -> AsyncIterator[ServerSentEvent | bytes]:
    retry: int | None = retry_ms
    try:
        # aclosing: when the client goes away while we wait at `yield`, the reader must
        # unregister now, not when the garbage collector finalizes it (it holds back the buffer).
        async with aclosing(run.replay(after)) as batches:
            async for batch in batches:
                # Events that piled up while we were sending leave in one write.
                frames = []
                for seq, item in batch:
                    event_id = str(EventId(run.id, seq))
                    frame = (
                        item.sse(event_id, retry)
                        if isinstance(item, StoredEvent)
                        else encode_item(item, event_id, retry_ms=retry)
                    )
                    frames.append(frame.encode())
                    retry = None
                yield b"".join(frames)
                if batch[-1][0] < run.last_seq:
                    # Still behind (a resume, or a burst over the batch cap): the next batch comes
                    # without awaiting anything, so let the loop run: other streams get their turn
                    # and a closed connection is noticed before the next write.
                    await asyncio.sleep(0)
    except ResumeGap as gap:
        gone_id = f"{run.id}:{GONE}"
        yield encode_item(StreamError("resume_gap", f"{gap} Ask the question again."), gone_id)
        yield encode_item(END, gone_id)
    except RunStoreUnavailable as failure:  # Redis went away mid-stream: end clearly, never hang
        gone_id = f"{run.id}:{GONE}"
        yield encode_item(StreamError("store", str(failure), retryable=True), gone_id)
        yield encode_item(END, gone_id)


def gone_response(api: ApiContext, raw_id: str) -> Response:
    event_id = EventId.parse(raw_id)
    gone_id = f"{event_id.run_id if event_id else 'unknown'}:{GONE}"
    message = (
        "This answer is no longer available: the server keeps an answer for "
        f"{api.limits.grace_s:g} s after its last client leaves. Ask again."
    )
    events = [encode_item(StreamError("unknown_run", message), gone_id), encode_item(END, gone_id)]
    return EventSourceResponse(_iterate(events), ping=0)


async def _iterate(events: list[ServerSentEvent]) -> AsyncIterator[ServerSentEvent]:
    for event in events:
        yield event


class RunStreamResponse(EventSourceResponse):
    """An EventSourceResponse that calls `on_close` however it ends: finished, disconnected,
    timed out or cancelled, even if the body iterator never started.

    A client that stops reading is dropped by one watchdog timer per response, every
    `stuck_after_s`: a send still in progress since the previous tick fails with SendTimeoutError,
    between one and two periods after it began. sse-starlette's `send_timeout` opens a timeout
    scope around every single send instead, a cost per write of every stream.
    """

    def __init__(
        self,
        content: AsyncIterator[ServerSentEvent | bytes],
        *,
        on_close: Callable[[], None],
        stuck_after_s: float,
        **kwargs: Any,
    ):
        super().__init__(content, **kwargs)
        self._on_close = on_close
        self._stuck_after_s = stuck_after_s
        self._sends = 0
        self._sending: dict[asyncio.Task[Any], int] = {}  # task -> the number of the send it is in
        self._seen: dict[asyncio.Task[Any], int] = {}
        self._timed_out: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.TimerHandle | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._watchdog = asyncio.get_running_loop().call_later(self._stuck_after_s, self._watch)
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._watchdog.cancel()
            self._on_close()

    def _watch(self) -> None:
        for task, number in self._sending.items():
            if self._seen.get(task) == number:
                self._timed_out.add(task)
                task.cancel()
        self._seen = dict(self._sending)
        self._watchdog = asyncio.get_running_loop().call_later(self._stuck_after_s, self._watch)

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        task = asyncio.current_task()
        assert task is not None  # always called from a task of the response's task group
        self._sends += 1
        self._sending[task] = self._sends
        try:
            await send(message)
        except asyncio.CancelledError:
            # Ours only if the watchdog cancelled and nothing else did (then the cancel goes on).
            if task in self._timed_out and task.uncancel() == 0:
                raise SendTimeoutError() from None
            raise
        finally:
            del self._sending[task]
