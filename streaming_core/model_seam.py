"""Where ADK meets the model: memory per turn that does not grow with the answer's length.

ADK 2.13 keeps two things per partial response until the turn ends: the LlmResponse itself,
in the model call's telemetry `InferenceScope` (read once at the end, for the newest token
usage and the last model version), and the partial Event in the invocation's unbounded event
queue whenever the model runs ahead of whoever reads the turn. The seam drops the responses
nothing will read, holds the model while the reader is `window` events behind, and while the
turn is behind (an event still on its way to its client) joins text deltas (`coalescing`).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Protocol

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.telemetry._instrumentation import inference_scope

from streaming_core.coalescing import coalesced


class ModelSeam(BaseLlm):
    """Mixed in before a model's own class by `add_model_seam`; the model is otherwise unchanged."""

    __slots__ = ()

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        # The scope of this call is current while ADK drives the model's generator; the pacer is
        # the turn's, inherited by the task ADK runs the agent in.
        scope = inference_scope()
        pacer = current_pacer.get()
        responses = super().generate_content_async(llm_request, stream)
        if stream and pacer is not None and pacer.coalesce:
            responses = coalesced(responses, pacer)
        async with aclosing(responses):
            async for response in responses:
                if scope is not None:
                    keep_what_telemetry_reads(scope.llm_responses)
                yield response
                if pacer is not None and response.partial and pacer.produced_one():
                    await pacer.room()


class Outlet(Protocol):
    """Where a turn's events go after its reader: the clients of an API run."""

    @property
    def sending(self) -> bool:
        """An event is on its way to an attached client: handed over, not yet written to it."""
        ...

    async def sent(self) -> None:
        """Returns once nothing is on its way (at once with no client attached)."""
        ...


# Set by whoever forwards the turn's events to clients, in the task that reads the turn.
current_outlet: contextvars.ContextVar[Outlet | None] = contextvars.ContextVar("current_outlet", default=None)


@dataclass
class TurnPacer:
    """How far the model may run ahead of the turn's reader, counted in partial events, and
    whether the turn is behind: an event still in ADK's queue or, with an outlet, on its way to a
    client.

    A model that never suspends (the scripted one, or a burst from the network) would otherwise
    fill ADK's queue with the whole answer before the reader takes the first event. Should ADK
    ever make no event of a partial response, the count would drift: a reader found waiting for
    ADK after `recheck_s` means nothing is queued, so the count starts again.
    """

    window: int = 64
    recheck_s: float = 0.5
    coalesce: bool = True  # off where each chunk is shown as the model sent it
    ahead: int = 0
    reader_waiting: bool = False
    outlet: Outlet | None = field(default_factory=current_outlet.get)
    _moved: asyncio.Event = field(default_factory=asyncio.Event)
    _taken: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def behind(self) -> bool:
        return self.ahead > 0 or (self.outlet is not None and self.outlet.sending)

    async def caught_up(self) -> None:
        """Returns once the reader has taken every event ADK queued and the outlet, if any, has
        written every event it was handed."""
        while self.ahead > 0:
            self._taken.clear()
            try:
                async with asyncio.timeout(self.recheck_s):  # a timer, not wait_for's task per wait
                    await self._taken.wait()
            except TimeoutError:
                if self.reader_waiting:
                    self.ahead = 0  # the count drifted (see the class docstring)
        if self.outlet is not None:
            await self.outlet.sent()

    def produced_one(self) -> bool:
        """Counts a partial response the model made; True when it is `window` ahead and must wait
        for `room` (a check per chunk, not a coroutine)."""
        self.ahead += 1
        return self.ahead >= self.window

    async def room(self) -> None:
        """Waits while the model is `window` ahead: until the reader has taken half of it (or the count drifted)."""
        while self.ahead >= self.window:
            self._moved.clear()
            try:
                async with asyncio.timeout(self.recheck_s):  # a timer, not wait_for's task per wait
                    await self._moved.wait()
            except TimeoutError:
                if self.reader_waiting:
                    self.ahead = 0

    def took_one(self) -> None:
        self.ahead = max(self.ahead - 1, 0)
        if self.ahead < self.window // 2:
            self._moved.set()
        if self.ahead == 0:
            self._taken.set()

    def finished(self) -> None:
        """Nobody reads any more: never hold the model."""
        self.ahead, self.window, self.outlet = 0, 1 << 62, None
        self._moved.set()
        self._taken.set()


current_pacer: contextvars.ContextVar[TurnPacer | None] = contextvars.ContextVar("current_pacer", default=None)


def keep_what_telemetry_reads(responses: list[LlmResponse]) -> None:
    """Keeps the last response and the newest one carrying token usage, in order; O(1) when called
    after every append."""
    if len(responses) <= 2:
        return
    last = responses[-1]
    with_usage = next((r for r in reversed(responses) if r.usage_metadata), None)
    responses[:] = [last] if with_usage is None or with_usage is last else [with_usage, last]


def add_model_seam(model: BaseLlm) -> BaseLlm:
    """Gives `model` the seam in place. Its class becomes a subclass of its own class, so it stays
    what ADK checks for (`isinstance(model, Gemini)`) and what tests inspect (`model.log`)."""
    if not isinstance(model, ModelSeam):
        model.__class__ = _seamed(type(model))
    return model


@functools.cache
def _seamed(model_class: type[BaseLlm]) -> type[BaseLlm]:
    return type(model_class.__name__, (ModelSeam, model_class), {"__slots__": (), "__module__": model_class.__module__})
