"""A run as its turn's outlet, through the real ADK Runner: what a slow client leaves waiting is joined."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from streaming_core.agent import build_agent
from streaming_core.api.runs import Run, RunRegistry
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.events import Done, TextDelta
from streaming_core.sessions import create_session_service
from streaming_core.stores.runs import RunSettings

ANSWER = "".join(chr(ord("a") + n % 26) for n in range(200))
CHUNK = 5
PACED = ScriptedReply(text=ANSWER, chunk_size=CHUNK, chunk_delay=0.002)


@pytest.fixture
async def registry() -> AsyncIterator[RunRegistry]:
    registry = RunRegistry(RunSettings(grace_s=5, buffer_events=10_000, max_runs=10, turn_timeout_s=30))
    yield registry
    await registry.aclose()


async def start(registry: RunRegistry, *, coalesce: bool = True) -> Run:
    assistant = Assistant(build_agent(ScriptedLlm(replies=(PACED,))), create_session_service(None), coalesce=coalesce)
    return await registry.start(await assistant.open_turn("go"), "visitor")


async def read_slowly(run: Run, write_s: float) -> tuple[list[str], Done]:
    """What a client whose every write takes `write_s` receives (the model sends a chunk every 2 ms)."""
    run.attach()
    deltas: list[str] = []
    done: Done | None = None
    async with aclosing(run.replay(0)) as batches:
        async for batch in batches:
            for _, item in batch:
                if isinstance(item, TextDelta):
                    deltas.append(item.text)
                done = item if isinstance(item, Done) else done
            await asyncio.sleep(write_s)
    assert done is not None
    return deltas, done


async def test_deltas_made_while_the_client_is_still_being_written_to_are_joined(registry: RunRegistry) -> None:
    deltas, done = await read_slowly(await start(registry), write_s=0.02)

    assert "".join(deltas) == ANSWER == done.text and done.matches_final is True
    assert deltas[0] == ANSWER[:CHUNK]  # the first chunk goes out as the model sent it
    assert len(deltas) < len(ANSWER) // CHUNK // 2


async def test_with_coalescing_off_a_slow_client_still_gets_every_chunk(registry: RunRegistry) -> None:
    deltas, done = await read_slowly(await start(registry, coalesce=False), write_s=0.02)

    assert deltas == [ANSWER[i : i + CHUNK] for i in range(0, len(ANSWER), CHUNK)] and done.text == ANSWER


async def test_a_client_that_leaves_mid_answer_does_not_hold_the_model(registry: RunRegistry) -> None:
    run = await start(registry)
    run.attach()
    async with aclosing(run.replay(0)) as batches:
        await anext(batches)  # the first event reaches the client, which then goes away
    run.detach()

    await asyncio.wait_for(run.task, 10)

    assert run.finished and not run.sending
