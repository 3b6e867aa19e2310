"""Runs evaluation cases through a real Assistant: ADK Runner, sessions, normalization, SSE mode."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from evals.cases import Case
from evals.graders import Answer, hygiene_problems
from streaming_core.assistant import Assistant
from streaming_core.events import Done, StreamError, TextDelta

logger = logging.getLogger(__name__)

EVAL_USER = "eval"


class UnknownCase(ValueError):
    """Raised when a name given on the command line is neither a case nor a category."""


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: Case
    answers: tuple[Answer, ...]
    problems: tuple[str, ...]  # the category grader's, on the last answer
    hygiene: tuple[str, ...]  # on every answer
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.problems and not self.hygiene


async def ask(assistant: Assistant, prompt: str, session_id: str | None) -> tuple[Answer, str | None, list[str]]:
    """One turn: the answer, the session it continued (or started), and stream failures."""
    chunks, done, failures = 0, None, []
    async for event in assistant.stream_turn(prompt, session_id=session_id, user_id=EVAL_USER):
        if isinstance(event, TextDelta):
            chunks += 1
        elif isinstance(event, StreamError):
            failures.append(f"stream error {event.code}: {event.message}")
        elif isinstance(event, Done):
            done = event
    if done is None or done.status != "completed":
        failures.append(f"turn ended {done.status if done else 'without Done'}")
    return Answer(prompt, done.text if done else "", chunks), (done.session_id if done else session_id), failures


async def run_case(assistant: Assistant, case: Case) -> CaseResult:
    """Every turn of `case` in one new conversation; grades the last answer, hygiene on all."""
    started = time.perf_counter()
    session_id: str | None = None
    answers: list[Answer] = []
    hygiene: list[str] = []
    failures: list[str] = []
    for number, prompt in enumerate(case.turns, 1):
        answer, session_id, turn_failures = await ask(assistant, prompt, session_id)
        answers.append(answer)
        failures += turn_failures
        prefix = f"turn {number}: " if len(case.turns) > 1 else ""
        hygiene += [prefix + problem for problem in hygiene_problems(answer)]
    problems = failures + case.grade(answers[-1])
    return CaseResult(case, tuple(answers), tuple(problems), tuple(hygiene), time.perf_counter() - started)


async def run_cases(
    assistant: Assistant, cases: Iterable[Case], progress: Callable[[CaseResult], None] | None = None
) -> list[CaseResult]:
    """One case at a time (the local model answers one request at a time anyway)."""
    results = []
    for case in cases:
        result = await run_case(assistant, case)
        logger.info("%s %s in %.1f s", "pass" if result.passed else "FAIL", case.name, result.seconds)
        if progress is not None:
            progress(result)
        results.append(result)
    return results


def select(cases: Iterable[Case], names: Iterable[str]) -> list[Case]:
    """Cases whose name or category is in `names` (all of them when `names` is empty)."""
    cases, wanted = list(cases), set(names)
    if unknown := wanted - {case.name for case in cases} - {case.category for case in cases}:
        raise UnknownCase(f"no case or category named {', '.join(sorted(unknown))}; see evals/cases.py")
    return [case for case in cases if not wanted or case.name in wanted or case.category in wanted]
