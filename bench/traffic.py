"""What the soak's clients saw, by kind of traffic: turns, outcomes, latencies and surprises."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from httpx_sse import ServerSentEvent

from streaming_core.api.encoding import DONE_DATA
from streaming_core.testing.faults import Fault, answer_problems
from streaming_core.testing.paths import answer_from
from streaming_core.testing.sse import SseReply


@dataclass
class KindFigures:
    turns: int = 0
    completed: int = 0
    first_chunk_s: list[float] = field(default_factory=list)
    whole_turn_s: list[float] = field(default_factory=list)


@dataclass
class Traffic:
    """Figures by kind of traffic, error codes seen, and every turn that differed from its fault."""

    kinds: dict[str, KindFigures] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)

    def record(self, kind: str, fault: Fault, reply: SseReply, started: float, secret: str) -> None:
        figures = self.kinds.setdefault(kind, KindFigures())
        figures.turns += 1
        if reply.status_code != 200:
            self.problems[f"{kind}: HTTP {reply.status_code}"] += 1
            return
        chunks = [t for t, e in zip(reply.arrivals, reply.events, strict=True) if _is_chunk(e)]
        if chunks:
            figures.first_chunk_s.append(chunks[0] - started)
        if kind == "hang-up":  # the client left after the first event: nothing else to check
            if not chunks:
                self.problems[f"{kind}: no chunk before hanging up"] += 1
            return
        answer = answer_from(reply)
        figures.completed += answer.status == "completed"
        if reply.arrivals:
            figures.whole_turn_s.append(reply.arrivals[-1] - started)
        self.errors.update(code for code, _ in answer.errors)
        self.problems.update(f"{kind}: {problem}" for problem in answer_problems(fault, answer, secret))

    @property
    def turns(self) -> int:
        return sum(figures.turns for figures in self.kinds.values())

    @property
    def completed(self) -> int:
        return sum(figures.completed for figures in self.kinds.values())


def _is_chunk(event: ServerSentEvent) -> bool:
    return event.event == "message" and event.data != DONE_DATA
