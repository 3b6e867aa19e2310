"""Adaptive coalescing where the model meets ADK: text deltas ready while the turn is behind
become one partial.

ADK does a fixed amount of work per partial response (an Event, telemetry, its queue, the reader's
normalization), and an API run more (its buffer, SSE framing, a write). The turn is *behind* while
one of its events is still on its way to the client: in ADK's queue, or handed to the run's
clients and not yet written (`ReaderState`). A text delta the model has ready then waits until
that event is written, and goes with every delta of its kind ready by that time, as one response
(Nagle's rule, with the client's write as the acknowledgement). So a server that keeps up sends
every chunk as the model made it; a saturated one sends fewer, larger events, and the work it
saves is what it was short of. The first response of a model call never waits, nothing waits for
the model to make more, the text and its order are unchanged, and function calls, thoughts next
to text, and anything carrying more than text stay responses of their own.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Hashable
from contextlib import aclosing
from typing import Protocol

from google.adk.models.llm_response import LlmResponse
from google.genai import types
from pydantic import BaseModel

# A partial response made of these alone is plain text; any other field set (finish reason,
# grounding, logprobs, an error...) keeps the response apart, unchanged. A flag set to False
# (`turn_complete=False` on every scripted partial) says nothing either.
_TEXT_RESPONSE_FIELDS = frozenset({"content", "partial", "usage_metadata", "model_version"})
_TEXT_PART_FIELDS = frozenset({"text", "thought"})


class ReaderState(Protocol):
    @property
    def behind(self) -> bool:
        """An event of the turn is on its way: queued for the reader, or not yet written to a client."""
        ...

    async def caught_up(self) -> None:
        """Returns once no event of the turn is on its way."""
        ...


def text_kind(response: LlmResponse) -> Hashable | None:
    """What a text-only partial response may be joined with (same role, thought flag and model
    version), or None when it must stay as it is."""
    content = response.content
    if response.partial is not True or content is None or not content.parts or len(content.parts) != 1:
        return None
    part = content.parts[0]
    if not part.text or not _only(part, _TEXT_PART_FIELDS) or not _only(response, _TEXT_RESPONSE_FIELDS):
        return None
    return (content.role, part.thought, response.model_version)


def _only(model: BaseModel, fields: frozenset[str]) -> bool:
    return all(_unset(getattr(model, name)) for name in model.model_fields_set - fields)


def _unset(value: object) -> bool:
    return value is None or value is False


def join_responses(run: list[LlmResponse]) -> LlmResponse:
    """One partial response with the text of `run` (responses of one `text_kind`), in order. Usage
    is each response's running total for the call, so the newest is kept (as ADK's telemetry does)."""
    first = run[0]
    assert first.content is not None, "text_kind accepts one text part"
    usage = next((response.usage_metadata for response in reversed(run) if response.usage_metadata), None)
    text = "".join(_text_part(response).text or "" for response in run)
    # Copies of the first response: what text_kind let through is already valid, and under load
    # this runs for every event (validating a new google-genai Part costs more than the join).
    part = _text_part(first).model_copy(update={"text": text})
    content = first.content.model_copy(update={"parts": [part]})
    return first.model_copy(update={"content": content, "usage_metadata": usage})


def _text_part(response: LlmResponse) -> types.Part:
    assert response.content is not None and response.content.parts, "text_kind accepts one part"
    return response.content.parts[0]


class ReadAhead:
    """A model's responses, read in a task of their own up to `size` ahead of whoever takes them.

    The task owns the model's generator from start to close (cancel scopes an HTTP client opens
    inside it stay in one task). While the reader is not behind, a response the taker waits for
    (the first one, always) is handed over as soon as the model has made one more step without
    suspending: the taker runs at the model's next wait, and a model that never waits is paused for
    it, never read ahead of it. Pausing at every response instead would cost a loop round per chunk.
    """

    def __init__(self, responses: AsyncGenerator[LlmResponse, None], reader: ReaderState, size: int) -> None:
        self._reader = reader
        self._size = size
        self._ready: deque[LlmResponse] = deque()
        self._end: BaseException | None = None
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._taker_waiting = False
        self._task = asyncio.create_task(self._read(responses), name="model read-ahead")

    async def _read(self, responses: AsyncGenerator[LlmResponse, None]) -> None:
        try:
            async with aclosing(responses):
                async for response in responses:
                    if self._taker_waiting and self._ready and not self._reader.behind:
                        await asyncio.sleep(0)  # the model did not wait: let the taker have the last one
                    self._ready.append(response)
                    self._arrived.set()
                    while len(self._ready) >= self._size:
                        self._room.clear()
                        await self._room.wait()
        except BaseException as error:
            # The model's own failure reaches ADK from `take`, as if ADK had read the model itself.
            self._end = error
            if not isinstance(error, Exception):
                raise
        finally:
            self._end = self._end or StopAsyncIteration()
            self._arrived.set()

    async def take(self) -> LlmResponse | None:
        """The next response, waiting for the model if none is ready; None at the end. Raises what
        the model raised, once every response before it has been taken."""
        while not self._ready:
            if self._end is not None:
                if isinstance(self._end, StopAsyncIteration):
                    return None
                raise self._end
            self._arrived.clear()
            self._taker_waiting = True
            try:
                await self._arrived.wait()
            finally:
                self._taker_waiting = False
        self._room.set()
        return self._ready.popleft()

    def take_ready(self, kind: Hashable) -> LlmResponse | None:
        """The next response if it is ready now and of `kind`; never waits."""
        if self._ready and text_kind(self._ready[0]) == kind:
            self._room.set()
            return self._ready.popleft()
        return None

    async def close(self) -> None:
        """Stops reading: the model's call is cancelled and closed before this returns."""
        self._task.cancel()
        await asyncio.wait([self._task])


async def coalesced(
    responses: AsyncGenerator[LlmResponse, None], reader: ReaderState, size: int = 64
) -> AsyncGenerator[LlmResponse, None]:
    """`responses`, with the text-only partials that are ready while the turn is behind joined."""
    ahead = ReadAhead(responses, reader, size)
    first = True
    try:
        while (response := await ahead.take()) is not None:
            kind = text_kind(response)
            if kind is not None and reader.behind:
                if not first:
                    await reader.caught_up()  # the events before it are written; the client is free
                run = [response]
                while (following := ahead.take_ready(kind)) is not None:
                    run.append(following)
                if len(run) > 1:
                    response = join_responses(run)
            first = False
            yield response
    finally:
        await ahead.close()
