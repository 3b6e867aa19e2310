"""`python -m evals.experiments [--held-out] [variant ...] [-- name or category ...]`: the local
model's prompt frames compared on the evaluation (or on its held-out prompts), one row per variant.
A full run (every variant, every case) rewrites docs/evals.md's experiments table and its
"baseline" section (the frame before issue 16)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

from evals.__main__ import DOCS, MAX_OUTPUT_TOKENS
from evals.cases import CASES, CATEGORIES, HELD_OUT, Case
from evals.report import pass_rate, render_run, write_section
from evals.runner import CaseResult, run_cases, select
from streaming_core.agent import build_agent
from streaming_core.assistant import Assistant
from streaming_core.backends.gemma_prompt import BARE, FEW_SHOT, PromptFrame, Turn
from streaming_core.backends.local_gemma import create_local_gemma
from streaming_core.sessions import create_session_service

# Each variant changes one thing against the one before it, so the table says what each is worth.
_FACT, _UPTO, _LETTERS, _EXPLAIN = (FEW_SHOT.examples[i : i + 2] for i in range(0, 8, 2))
_MEMORY: tuple[Turn, ...] = (
    ("user", "My brother is called Sam."),
    ("model", "Sam is a nice name."),
    ("user", "What is my brother called?"),
    ("model", "Your brother is called Sam."),
)
_NUMBER_FACT: tuple[Turn, ...] = (
    ("user", "How many wheels does a tricycle have?"),
    ("model", "A tricycle has three wheels."),
)
_BOILING: tuple[Turn, ...] = (
    ("user", "What is the boiling point of water at sea level?"),
    ("model", "Water boils at 100 °C (212 °F) at sea level."),
)
_BRAZIL: tuple[Turn, ...] = (
    ("user", "What language is spoken in Brazil?"),
    ("model", "Portuguese is the language of Brazil."),
)
_FAQ_PREAMBLE = (
    "Frequently asked questions\n\nClear, correct answers to common questions, checked by teachers. Each answer is "
    "a complete sentence that names the thing asked about. A request to count gets every number up to the last "
    "one, separated by commas. A request to explain gets a full paragraph."
)
# The sixth default: the default before the answer's opening word was kept off the message's words.
_SIXTH = replace(FEW_SHOT, no_opening_word=False)
# The first default of issue 16: three examples, the whole conversation as a Q/A transcript.
_FIRST = replace(
    _SIXTH,
    examples=_FACT + _LETTERS + _EXPLAIN,
    recap=False,
    recap_answers=False,
    no_copy_run=0,
    count_bound=False,
    no_copy_start=0,
)
# The second default: recap and the letters-from-the-start example, before the echo guard.
_BOTH = replace(_SIXTH, no_copy_run=0, count_bound=False, no_copy_start=0, recap_answers=False)
# The third default: the second with the echo guard, before counts ended at the message's bound.
_THIRD = replace(_SIXTH, count_bound=False, no_copy_start=0, recap_answers=False)
# The fourth default: the third with the count bound, before the start guard.
_FOURTH = replace(_SIXTH, no_copy_start=0, recap_answers=False)
# The fifth default: the fourth with the start guard, before the recap carried the answers.
_FIFTH = replace(_SIXTH, recap_answers=False)
_FEW_REST = _FOURTH.examples[2:]  # the default's examples after its fact
_TERSE_FACT: tuple[Turn, ...] = (_BRAZIL[0], ("model", "Portuguese."))
_CONTINUE = ". Asked to continue, it goes on from where it stopped."
_CONTINUED = replace(_FOURTH, preamble=_FOURTH.preamble.replace(", and stops there.", _CONTINUE))
_DOTS = replace(
    _FOURTH,
    preamble=_FOURTH.preamble.replace(
        "1, 2, 3 and so on, up to that number, and stops there.", "1, 2, 3, ... up to that number."
    ).replace("up to that number.", "up to that number." + _CONTINUE[1:], 1),
)
# "A" is the first few-shot frame that passed the tutorial's prompts; each row changes one thing in A
# or in a default (docs/evals.md also has the subset experiments that led to A).
_A = replace(_FIRST, preamble=_FIRST.preamble.replace(", and stops there.", "."))
VARIANTS: dict[str, PromptFrame] = {
    "bare (before issue 16)": BARE,
    "A: few-shot, preamble on counting and explaining, run guard": _A,
    "A, examples reordered (the fact last)": replace(_A, examples=_EXPLAIN + _LETTERS + _FACT),
    "A + a memory example first": replace(_A, examples=_MEMORY + _A.examples),
    "A + a memory and a number-fact example": replace(
        _A, examples=_MEMORY + _FACT + _NUMBER_FACT + _LETTERS + _EXPLAIN
    ),
    "A without the agent instruction": replace(_A, with_instruction=False),
    "A + a sentence on remembering": replace(
        _A,
        preamble=_A.preamble
        + " When the person says something about themselves, it acknowledges it briefly and remembers it.",
    ),
    'A + "and stops there" after counting (first default)': _FIRST,
    "first default, guard on 6-token runs": replace(_FIRST, no_repeat_run=6),
    "first default, letters example from the start (A, B, C, D)": replace(
        _FIRST,
        examples=(
            *_FACT,
            ("user", "List the first four letters of the alphabet."),
            ("model", "A, B, C, D."),
            *_EXPLAIN,
        ),
    ),
    "first default, a science fact example instead of Shakespeare": replace(
        _FIRST, examples=(*_BOILING, *_LETTERS, *_EXPLAIN)
    ),
    "first default + a second fact example last (Brazil)": replace(_FIRST, examples=(*_FIRST.examples, *_BRAZIL)),
    "first default, an FAQ-page preamble": replace(_FIRST, preamble=_FAQ_PREAMBLE),
    "first default, earlier turns recapped as the person's notes": replace(_FIRST, recap=True),
    "first default + letters from the start (up to F)": replace(_FIRST, examples=_FOURTH.examples),
    "both (recap and letters)": _BOTH,
    "both without the agent instruction": replace(_BOTH, with_instruction=False),
    "first default + echo guard on 6-token runs": replace(_FIRST, no_copy_run=6),
    "first default + echo guard on 8-token runs": replace(_FIRST, no_copy_run=8),
    "both + echo guard on 4-token runs": replace(_BOTH, no_copy_run=4),
    "both + echo guard on 6-token runs (third default)": _THIRD,
    "both + echo guard on 8-token runs": replace(_BOTH, no_copy_run=8),
    "third default + counts end at the message's last number": _FOURTH,
    "default + continue sentence, without 'and stops there'": _CONTINUED,
    "same, '1, 2, 3, ...' instead of '1, 2, 3 and so on'": _DOTS,
    "default + continue sentence after 'and stops there'": replace(
        _FOURTH, preamble=_FOURTH.preamble.replace("and stops there.", "and stops there" + _CONTINUE)
    ),
    "default + continue sentence at the end": replace(_FOURTH, preamble=_FOURTH.preamble + _CONTINUE[1:]),
    "default, explain or tell a story in a full paragraph": replace(
        _FOURTH, preamble=_FOURTH.preamble.replace("Asked to explain,", "Asked to explain or to tell a story,")
    ),
    "'1, 2, 3, ...' variant, explain in several sentences": replace(
        _DOTS, preamble=_DOTS.preamble.replace("a full paragraph.", "a full paragraph of several sentences.")
    ),
    "'1, 2, 3, ...' variant, continue sentence at the end": replace(
        _DOTS, preamble=_DOTS.preamble.replace(_CONTINUE[1:], "") + _CONTINUE[1:]
    ),
    "default, the fact example answered in two words": replace(
        _FOURTH, examples=(("user", "Who wrote Romeo and Juliet?"), ("model", "William Shakespeare."), *_FEW_REST)
    ),
    "default, a terse fact example on Brazil's language instead": replace(_FOURTH, examples=_TERSE_FACT + _FEW_REST),
    "continue sentence, with the terse Brazil example": replace(_CONTINUED, examples=_TERSE_FACT + _FEW_REST),
    "continue sentence, explain in several sentences": replace(
        _CONTINUED, preamble=_CONTINUED.preamble.replace("a full paragraph.", "a full paragraph of several sentences.")
    ),
    "default, echo guard on 5-token runs": replace(_FOURTH, no_copy_run=5),
    "default, repeat guard on 5-token runs": replace(_FOURTH, no_repeat_run=5),
    "fourth default + no opening with the message's first 3 tokens": replace(_FOURTH, no_copy_start=3),
    "fourth default + no opening with the message's first 4 tokens (fifth default)": _FIFTH,
    "fifth default + each recapped message with its answer, no Q/A exchange (sixth default)": _SIXTH,
    "sixth default + no opening with a word of the message (default)": FEW_SHOT,
}


async def _evaluate(
    frame: PromptFrame, names: list[str], temperature: float, cases: tuple[Case, ...] = CASES
) -> list[CaseResult]:
    model = create_local_gemma().model_copy(update={"frame": frame})
    agent = build_agent(model, temperature=temperature, max_output_tokens=MAX_OUTPUT_TOKENS)
    return await run_cases(Assistant(agent, create_session_service(None)), select(cases, names))


def _settings(frame: PromptFrame, cases: int) -> dict[str, str]:
    described = create_local_gemma().model_copy(update={"frame": frame}).describe_frame()
    return {"temperature": "0", "max output tokens": str(MAX_OUTPUT_TOKENS), "cases": str(cases)} | described


def main(argv: list[str]) -> int:
    held_out = "--held-out" in argv
    argv = [arg for arg in argv if arg != "--held-out"]
    chosen, names = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    unknown = [name for name in chosen if name not in VARIANTS]
    if unknown:
        print(f"error: unknown variant(s) {unknown}; choose from {list(VARIANTS)}", file=sys.stderr)
        return 2
    header = ["variant", "pass rate", *CATEGORIES, "hygiene failures"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for variant in chosen or list(VARIANTS):
        results = asyncio.run(_evaluate(VARIANTS[variant], names, 0.0, HELD_OUT if held_out else CASES))
        if VARIANTS[variant] is BARE and not names and not held_out:
            settings = _settings(BARE, len(results))
            write_section(DOCS, "baseline", render_run("Baseline: the prompt before issue 16", settings, results))
        per_category = []
        for category in CATEGORIES:
            group = [r for r in results if r.case.category == category]
            per_category.append(f"{sum(r.passed for r in group)}/{len(group)}" if group else "—")
        hygiene = sum(bool(r.hygiene) for r in results)
        rate = f"{sum(r.passed for r in results)}/{len(results)} ({pass_rate(results):.0%})"
        rows.append(f"| {variant} | {rate} | {' | '.join(per_category)} | {hygiene} |")
        print(rows[-1], flush=True)
    if chosen or names or held_out:  # a partial comparison is for the terminal; the page keeps the full one
        return 0
    write_section(DOCS, "experiments-table", "\n".join(rows))  # the narrative around it is written by hand
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
