"""The fault table: what the fake Gemini does, and what a person must end up with when it happens.

One table for every path (the Streamlit core and the SSE API): tests/reliability asserts it and
`python -m bench.soak` writes the observed matrix to docs/reliability.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from streaming_core.backends.gemini import RETRY_OPTIONS
from streaming_core.events import DoneStatus
from streaming_core.testing.fake_gemini import Scenario

PROMPT = "Tell me how streaming works."
NEXT_PROMPT = "And after that?"
ANSWER = "Streaming lets the reader start before the whole answer is ready."
NEXT_ANSWER = "Back again: this session still works."
HANG_TIMEOUT_S = 1.0  # the turn's time limit when Gemini sends headers and then nothing
SLOW_FIRST_CHUNK_S = 10.0


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    does: str  # what the fake Gemini does, in a few words
    scenarios: tuple[Scenario, ...]  # its answers to the turn's requests, retries included
    status: DoneStatus = "error"
    code: str | None = None  # the one error event's code; None: the answer completes
    message: str = ""  # part of the message the person sees: which fault, what to do
    text: str = ""  # the whole answer, or the part shown before the fault; kept in the session
    timeout_s: float = 30.0  # the turn's time limit

    @property
    def requests(self) -> int:
        """Requests the turn makes: retries happen only before the response starts."""
        return len(self.scenarios)


@dataclass(frozen=True, slots=True)
class Answer:
    """One turn as its consumer saw it, whichever path it took."""

    status: str  # the done event's status; "" if there was none
    errors: tuple[tuple[str, str], ...]  # (code, message) of every error event
    text: str
    session_id: str
    wire: str  # everything the consumer received, as text, to search for tracebacks and keys


@dataclass(frozen=True, slots=True)
class Observed:
    """A fault's turn, then the next turn on the same session."""

    first: Answer
    requests: int  # requests the first turn made to Gemini
    after: Answer
    history: tuple[tuple[str, str], ...]  # the conversation the next turn sent to Gemini


def fault_table(slow_s: float = SLOW_FIRST_CHUNK_S, hang_s: float = HANG_TIMEOUT_S) -> tuple[Fault, ...]:
    attempts = RETRY_OPTIONS.attempts or 1
    cut = Scenario.cut(ANSWER, after_chunks=2, chunks=4)
    error_mid_stream = replace(Scenario.internal_error(after_chunks=1), text=ANSWER, chunks=4)
    unavailable = Scenario.failure(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
    reply = Scenario.reply(ANSWER, chunks=4)
    lost = "Lost the connection to Gemini before the answer ended — try again"
    blocked = "blocked this answer for safety reasons. Rephrase"
    bad_key = "Gemini rejected the API key — check GOOGLE_API_KEY"
    # fmt: off
    return (
        Fault("fails before the first chunk", "503 on every attempt", (unavailable,) * attempts,
              code="upstream", message="server error (503 UNAVAILABLE) — try again shortly"),
        Fault("cut before the first chunk", "headers, then the socket closes", (Scenario.cut(ANSWER, after_chunks=0),),
              code="network", message=lost),
        Fault("cut mid-stream", "2 of 4 chunks, then the socket closes", (cut,),
              code="network", message=lost, text="".join(cut.pieces()[:2])),
        Fault("500 mid-stream", "1 chunk, then an in-stream 500", (error_mid_stream,),
              code="upstream", message="server error (500 INTERNAL)", text=error_mid_stream.pieces()[0]),
        Fault("hangs", "headers, then no bytes at all", (Scenario(kind="hang"),), status="timeout",
              code="timeout", message=f"Timed out after {hang_s:g} s", timeout_s=hang_s),
        Fault("slow", f"first chunk after {slow_s:g} s", (replace(reply, first_delay=slow_s),),
              status="completed", text=ANSWER),
        Fault("429 RESOURCE_EXHAUSTED", "quota error, RetryInfo 17s", (Scenario.quota_exhausted("17s"),),
              code="quota", message="Gemini quota exhausted — retry in 17 s or switch to the local model."),
        Fault("500 INTERNAL", "500 on every attempt", (Scenario.internal_error(),) * attempts,
              code="upstream", message="server error (500 INTERNAL) — try again shortly"),
        Fault("403 bad key", "403 PERMISSION_DENIED", (Scenario.permission_denied(),), code="auth", message=bad_key),
        Fault("400 API_KEY_INVALID", "400 with reason API_KEY_INVALID", (Scenario.invalid_api_key(),),
              code="auth", message=bad_key),
        Fault("safety-blocked prompt", "promptFeedback.blockReason SAFETY", (Scenario(kind="blocked_prompt"),),
              code="blocked", message=blocked),
        Fault("safety-blocked candidate", "finishReason SAFETY, no content", (Scenario(kind="blocked_candidate"),),
              code="blocked", message=blocked),
        Fault("empty candidate", "finishReason STOP, no parts", (Scenario(kind="empty"),),
              code="empty", message="empty answer. Try again or rephrase"),
        Fault("500, then success", "retried before the first chunk", (Scenario.internal_error(), reply),
              status="completed", text=ANSWER),
        Fault("503, then success", "retried before the first chunk", (unavailable, reply),
              status="completed", text=ANSWER),
    )
    # fmt: on


FAULTS = fault_table()


def problems(fault: Fault, seen: Observed, secret: str) -> list[str]:
    """What differs from the fault's expected outcome; empty when the path handled it well."""
    first, after = seen.first, seen.after
    found = answer_problems(fault, first, secret)
    if seen.requests != fault.requests:
        found.append(f"made {seen.requests} requests, expected {fault.requests}")
    if (after.status, after.text, after.session_id) != ("completed", NEXT_ANSWER, first.session_id):
        found.append(f"next turn on the session: {after.status} {after.text!r}")
    kept = (("model", fault.text),) if fault.text else ()
    if seen.history != (("user", PROMPT), *kept, ("user", NEXT_PROMPT)):
        found.append(f"next turn sent the history {seen.history}")
    if "Traceback" in after.wire or secret in after.wire:
        found.append("a traceback or the API key reached the consumer on the next turn")
    return found


def answer_problems(fault: Fault, first: Answer, secret: str) -> list[str]:
    """What differs in the faulty turn itself: how it ended, its message, the text shown."""
    found = []
    if first.status != fault.status:
        found.append(f"ended {first.status or 'without a done event'}, expected {fault.status}")
    codes = [code for code, _ in first.errors]
    if codes != ([] if fault.code is None else [fault.code]):
        found.append(f"error codes {codes}, expected {fault.code or 'none'}")
    if fault.message and not any(fault.message in message for _, message in first.errors):
        found.append(f"no message containing {fault.message!r}")
    if first.text != fault.text:
        found.append(f"showed {first.text!r}, expected {fault.text!r}")
    for name, leaked in (("a traceback", "Traceback"), ("the API key", secret)):
        if leaked in first.wire:
            found.append(f"{name} reached the consumer")
    return found


def outcome(fault: Fault, seen: Observed) -> str:
    """One cell of the fault matrix: how the turn ended, the message, what was kept."""
    message = "; ".join(f"`{code}`: {text}" for code, text in seen.first.errors) or "no error"
    kept = f"kept {len(seen.first.text)} chars" if seen.first.text else "nothing to keep"
    return f"{seen.first.status}, {message}; {kept}; {seen.requests} request(s)"
