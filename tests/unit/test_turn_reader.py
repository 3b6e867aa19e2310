"""TurnReader: one deadline per turn that interrupts only the wait for ADK."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from google.adk.events.event import Event

from streaming_core.model_seam import current_pacer
from streaming_core.turn_reader import TurnReader


async def events(count: int, *, then_hang: bool = False) -> AsyncGenerator[Event, None]:
    for _ in range(count):
        yield Event(author="model", partial=True)
    if then_hang:
        await asyncio.Event().wait()  # a model that went silent


async def test_events_arrive_in_order_and_then_the_end() -> None:
    with TurnReader(events(3), deadline=None) as reader:
        got = [await reader.next() for _ in range(3)]
        with pytest.raises(StopAsyncIteration):
            await reader.next()
    assert len(got) == 3 and reader.pacer.ahead == 0


async def test_a_silent_model_times_out_at_the_deadline() -> None:
    loop = asyncio.get_running_loop()
    with TurnReader(events(1, then_hang=True), deadline=loop.time() + 0.05) as reader:
        await reader.next()
        with pytest.raises(TimeoutError):
            await reader.next()


async def test_the_deadline_never_cancels_the_readers_own_work() -> None:
    loop = asyncio.get_running_loop()
    with TurnReader(events(2), deadline=loop.time() + 0.02) as reader:
        await reader.next()
        await asyncio.sleep(0.05)  # the reader's own work outlasts the deadline, uninterrupted
        assert reader.expired
        with pytest.raises(TimeoutError):  # and the next wait for ADK ends at once
            await reader.next()


async def test_a_cancel_from_elsewhere_at_the_deadline_stays_a_cancel() -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.02

    async def read() -> None:
        with TurnReader(events(0, then_hang=True), deadline=deadline) as reader:
            await reader.next()

    reading = asyncio.create_task(read())
    await asyncio.sleep(0)  # the reader's timer is set; a Stop lands in the same loop step as it fires
    loop.call_at(deadline, reading.cancel)

    with pytest.raises(asyncio.CancelledError):
        await reading


async def test_the_reader_publishes_its_pacer_for_the_model_seam() -> None:
    with TurnReader(events(0), deadline=None) as reader:
        assert current_pacer.get() is reader.pacer
