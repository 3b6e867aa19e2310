"""A process killed mid-turn: the conversation in SQLite survives, the cut turn is marked, the
next process carries on with it."""

from __future__ import annotations

import select
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from streaming_core.agent import build_agent
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.events import Done
from streaming_core.sessions import UNANSWERED, create_session_service

ROOT = Path(__file__).resolve().parents[2]
# Streams two chunks, prints the session id, then hangs until the test kills the process.
CRASHING_TURN = """
import asyncio, sys
from pathlib import Path
from streaming_core.agent import build_agent
from streaming_core.assistant import Assistant
from streaming_core.backends.scripted import ScriptedLlm, ScriptedReply
from streaming_core.events import TextDelta
from streaming_core.sessions import create_session_service

async def main():
    model = ScriptedLlm(replies=(ScriptedReply(text="cut off here", chunk_size=3, hang_after=2),))
    assistant = Assistant(build_agent(model), create_session_service(Path(sys.argv[1])))
    session_id = await assistant.start_conversation()
    chunks = 0
    async for event in assistant.stream_turn("asked before the crash", session_id=session_id):
        chunks += isinstance(event, TextDelta)
        if chunks == 2:
            print(session_id, flush=True)

asyncio.run(main())
"""


def kill_mid_turn(db: Path) -> str:
    process = subprocess.Popen(
        [sys.executable, "-c", CRASHING_TURN, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)  # a child stuck at start must not hang the suite
        session_id = process.stdout.readline().strip() if ready else ""
        assert session_id, "the turn never streamed"
    finally:
        process.send_signal(signal.SIGKILL)  # no cleanup runs: like a crash or a hard restart
        process.wait(timeout=10)
    return session_id


async def test_a_turn_cut_by_a_killed_process_is_marked_and_the_conversation_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    session_id = kill_mid_turn(db)

    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restarted = Assistant(
        build_agent(ScriptedLlm(replies=(ScriptedReply(text="I am back."),))), create_session_service(db)
    )
    before = await restarted.history(session_id)
    events = [e async for e in restarted.stream_turn("are you there?", session_id=session_id)]
    after = await restarted.history(session_id)

    assert before == [before[0], UNANSWERED] and before[0].text == "asked before the crash"
    assert isinstance(events[-1], Done) and events[-1].status == "completed"
    assert after[:2] == before  # the marker stays between the two questions
    assert [(m.role, m.text) for m in after[2:]] == [("user", "are you there?"), ("assistant", "I am back.")]
    assert (await restarted.conversations())[0].title == "asked before the crash"
