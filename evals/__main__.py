"""`python -m evals [--backend local] [name or category ...]`: runs the evaluation through the real
Assistant and writes its section of docs/evals.md (`make eval`, BACKEND=local by default)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from evals.cases import CASES
from evals.report import render_run, summary_line, write_section
from evals.runner import CaseResult, UnknownCase, run_cases, select
from streaming_core.assistant import Assistant
from streaming_core.backends import resolve_backend
from streaming_core.errors import ConfigurationError
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.settings import load_settings

DOCS = Path(__file__).resolve().parent.parent / "docs" / "evals.md"
# Enough for a paragraph; a looping answer costs the whole budget, so keep it modest.
MAX_OUTPUT_TOKENS = 256


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__)
    parser.add_argument("names", nargs="*", help="cases or categories to run (default: all)")
    parser.add_argument("--backend", default="local", help="auto, gemini, local or scripted (default: local)")
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--max-tokens", type=int, default=MAX_OUTPUT_TOKENS)
    parser.add_argument("--section", default="latest", help="the docs/evals.md section to write (default: latest)")
    parser.add_argument("--title", default="Latest run")
    parser.add_argument("--out", type=Path, default=DOCS)
    return parser.parse_args(argv)


def _print(result: CaseResult) -> None:
    verdict = "pass" if result.passed else "FAIL " + "; ".join(result.problems + result.hygiene)
    print(f"{result.case.name:<18} {result.seconds:5.1f} s  {verdict}", flush=True)


async def _evaluate(config: AssistantConfig, names: list[str]) -> tuple[Assistant, list[CaseResult]]:
    assistant = build_assistant(config, load_settings())  # on this loop: ADK clients bind to it
    return assistant, await run_cases(assistant, select(CASES, names), _print)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    args = _parse(argv)
    config = AssistantConfig(
        backend=args.backend, temperature=args.temperature, max_output_tokens=args.max_tokens, persistent=False
    )
    try:
        backend = resolve_backend(args.backend, load_settings())
        started = time.perf_counter()
        assistant, results = asyncio.run(_evaluate(config, args.names))
    except (ConfigurationError, UnknownCase) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = {
        "backend": f"{backend.label} ({backend.reason})",
        "model": str(getattr(assistant.agent.model, "model", assistant.agent.model)),
        "temperature": f"{args.temperature:g}",
        "max output tokens": str(args.max_tokens),
        "cases": f"{len(results)} ({' '.join(args.names) or 'all'})",
        "time": f"{time.perf_counter() - started:.0f} s",
    }
    if describe := getattr(assistant.agent.model, "describe_frame", None):
        settings |= describe()
    write_section(args.out, args.section, render_run(args.title, settings, results))
    print(summary_line(results), f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
