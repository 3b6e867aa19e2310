"""docs/evals.md: one run as markdown (settings, pass rate per category, failures with their
answers), written between named markers so each section (latest, baseline, experiments) keeps its
own last result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from evals.cases import CATEGORIES
from evals.runner import CaseResult


def pass_rate(results: Sequence[CaseResult]) -> float:
    return sum(r.passed for r in results) / len(results) if results else 0.0


def summary_line(results: Sequence[CaseResult]) -> str:
    hygiene = sum(bool(r.hygiene) for r in results)
    passed = sum(r.passed for r in results)
    return f"{passed}/{len(results)} passed ({pass_rate(results):.0%}), {hygiene} with hygiene failures"


def _quote(text: str) -> str:
    shown = text if len(text) <= 600 else text[:600] + " …"
    return "\n".join(f"    {line}" for line in (shown.strip() or "(empty)").splitlines())


def render_run(title: str, settings: Mapping[str, str], results: Sequence[CaseResult]) -> str:
    lines = [f"## {title}", "", f"**{summary_line(results)}.**", "", "| setting | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in settings.items()]
    lines += ["", "| category | passed | pass rate | hygiene failures |", "|---|---|---|---|"]
    for category in CATEGORIES:
        in_category = [r for r in results if r.case.category == category]
        if in_category:
            passed = sum(r.passed for r in in_category)
            hygiene = sum(bool(r.hygiene) for r in in_category)
            lines.append(f"| {category} | {passed}/{len(in_category)} | {pass_rate(in_category):.0%} | {hygiene} |")
    failures = [r for r in results if not r.passed]
    lines += ["", f"### Failures ({len(failures)})" if failures else "No failures."]
    for result in failures:
        lines += ["", f"**{result.case.name}** ({result.case.category}): {'; '.join(result.problems + result.hygiene)}"]
        for answer in result.answers:
            lines += ["", f"> {answer.prompt}", "", _quote(answer.text)]
    return "\n".join(lines) + "\n"


def write_section(path: Path, name: str, body: str) -> None:
    """Replaces the text between this section's markers, or appends the section."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    page = path.read_text() if path.exists() else ""
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in page and end in page:
        head, rest = page.split(begin, 1)
        page = head + block + rest.split(end, 1)[1]
    else:
        page = page.rstrip() + ("\n\n" if page else "") + block + "\n"
    path.write_text(page)
