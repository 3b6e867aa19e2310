"""BackgroundLoop.iterate: order, errors, early close, heartbeats, no leaks."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator

import pytest

from streaming_core.bridge import (
    _BURST_ITEMS_PER_S,
    _HANDOVER_INTERVAL_S,
    _MAX_AHEAD,
    HEARTBEAT,
    BackgroundLoop,
)


@pytest.fixture
def background() -> BackgroundLoop:
    loop = BackgroundLoop(name="test-loop")
    yield loop
    loop.stop()


async def numbers(count: int) -> AsyncIterator[int]:
    for number in range(count):
        yield number
        await asyncio.sleep(0)


def test_iterate_preserves_order(background: BackgroundLoop) -> None:
    items = [item for item in background.iterate(lambda: numbers(500), heartbeat=None)]

    assert items == list(range(500))


def test_items_held_for_the_next_hand_over_arrive_while_the_stream_waits(background: BackgroundLoop) -> None:
    """The second of two quick items waits for the hand-over timer, not for a third item."""
    second_seen = threading.Event()

    async def two_then_wait() -> AsyncIterator[int]:
        yield 1
        yield 2  # made right after the first: handed over with whatever follows in the interval
        await asyncio.to_thread(second_seen.wait)
        yield 3

    stream = background.iterate(two_then_wait, heartbeat=None)
    first, second = next(stream), next(stream)
    second_seen.set()

    assert [first, second, *stream] == [1, 2, 3]


def test_after_a_burst_the_next_item_waits_for_the_consumers_burst_interval(background: BackgroundLoop) -> None:
    """Items made faster than `_BURST_ITEMS_PER_S` space the next hand-over by `burst_interval`,
    even for an item that comes alone: the consumer thread is woken at its redraw rate."""
    burst_seen, last_seen = threading.Event(), threading.Event()
    burst, burst_interval = 100, 0.2  # 100 items at once: one hand-over, 1/60 s after the first
    started = 0.0

    async def one_burst_one() -> AsyncIterator[int]:
        nonlocal started
        started = asyncio.get_running_loop().time()
        yield 0  # handed over at once
        for number in range(1, burst + 1):
            yield number
        await asyncio.to_thread(burst_seen.wait)
        yield burst + 1
        await asyncio.to_thread(last_seen.wait)  # the end of the stream would hand it over at once

    received, waited = [], 0.0
    for item in background.iterate(one_burst_one, heartbeat=None, burst_interval=burst_interval):
        received.append(item)
        if item == burst:
            burst_seen.set()
        elif item == burst + 1:
            waited = time.monotonic() - started  # the loop's clock; its timers never fire early
            last_seen.set()

    assert received == list(range(burst + 2))
    assert burst > _BURST_ITEMS_PER_S * _HANDOVER_INTERVAL_S
    assert waited >= _HANDOVER_INTERVAL_S + burst_interval


def test_iterate_reraises_the_async_exception_in_the_consumer(background: BackgroundLoop) -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise LookupError("boom")

    received = []
    with pytest.raises(LookupError, match="boom"):
        for item in background.iterate(failing, heartbeat=None):
            received.append(item)

    assert received == [1]


def test_closing_early_cancels_the_task_and_runs_async_cleanup(background: BackgroundLoop) -> None:
    seen: list[str] = []

    async def endless() -> AsyncIterator[int]:
        try:
            while True:
                yield 1
                await asyncio.sleep(0.001)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        finally:
            await asyncio.sleep(0)  # async cleanup must be allowed to await
            seen.append("cleaned up")

    stream = background.iterate(endless, heartbeat=None)
    next(stream)
    stream.close()

    assert seen == ["cancelled", "cleaned up"]


def test_heartbeats_arrive_while_the_first_item_is_slow(background: BackgroundLoop) -> None:
    release = threading.Event()

    async def slow() -> AsyncIterator[str]:
        await asyncio.to_thread(release.wait)
        yield "late"

    stream = background.iterate(slow, heartbeat=0.01)
    heartbeats = [next(stream) for _ in range(3)]
    release.set()
    rest = [item for item in stream if item is not HEARTBEAT]

    assert heartbeats == [HEARTBEAT] * 3
    assert rest == ["late"]


def test_close_during_slow_first_item_cancels_the_wait(background: BackgroundLoop) -> None:
    cancelled = threading.Event()

    async def never() -> AsyncIterator[str]:
        try:
            await asyncio.Event().wait()
            yield "unreachable"
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stream = background.iterate(never, heartbeat=0.01)
    assert next(stream) is HEARTBEAT
    stream.close()

    assert cancelled.is_set()


def test_two_hundred_cancelled_streams_leak_no_tasks_or_threads(background: BackgroundLoop) -> None:
    threads_before = threading.active_count()

    for _ in range(200):
        stream = background.iterate(lambda: numbers(10_000), heartbeat=None)
        next(stream)
        stream.close()
    gc.collect()

    tasks = background.run(lambda: _other_tasks())
    assert tasks == 0
    assert threading.active_count() <= threads_before


def test_run_returns_the_coroutine_result(background: BackgroundLoop) -> None:
    async def answer() -> int:
        return 42

    assert background.run(answer) == 42


async def _other_tasks() -> int:
    return len(asyncio.all_tasks() - {asyncio.current_task()})


def test_a_fast_stream_waits_for_a_slow_consumer(background: BackgroundLoop) -> None:
    """Issue 12's flat memory: the loop side stops making items while `_MAX_AHEAD` wait untaken,
    so a zero-delay model does not pile its whole answer up in the hand-over queue."""
    made = 0

    async def as_fast_as_possible() -> AsyncIterator[int]:
        nonlocal made
        for number in range(4 * _MAX_AHEAD):
            made += 1
            yield number

    ahead = []
    for index, item in enumerate(background.iterate(as_fast_as_possible, heartbeat=None)):
        assert item == index
        ahead.append(made - index)
        time.sleep(0.00005)  # a consumer slower than the stream
    assert max(ahead) <= _MAX_AHEAD
    assert made == 4 * _MAX_AHEAD
