"""`python -m bench.compare OLD NEW`: the targets whose verdict differs between two runs' verdict files.

`python -m bench` writes docs/bench-verdicts.json beside the page; `make bench-twice` runs the
benchmarks twice and compares the two files. Exit status 0 when every target has the same verdict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.report import SectionRecord, TargetRecord

Verdicts = dict[str, SectionRecord]  # by section title


def load_verdicts(path: Path) -> Verdicts:
    """A verdict file's sections; none when the file does not exist yet."""
    if not path.exists():
        return {}
    sections: Verdicts = json.loads(path.read_text())["sections"]
    return sections


def write_verdicts(path: Path, sections: Verdicts) -> None:
    path.write_text(json.dumps({"sections": dict(sorted(sections.items()))}, indent=2, ensure_ascii=False) + "\n")


Pairs = list[tuple[TargetRecord, TargetRecord]]


def _paired(old: list[TargetRecord], new: list[TargetRecord]) -> tuple[Pairs, list[TargetRecord], list[TargetRecord]]:
    """Targets of one section paired by their text; those left over (a count in the text that
    changed, a target added) pair up in their order. Returns the pairs, then what only the old
    and only the new run has."""
    new_by_text = {target["target"]: target for target in new}
    pairs: Pairs = []
    only_old = []
    for target in old:
        match = new_by_text.pop(target["target"], None)
        if match is None:
            only_old.append(target)
        else:
            pairs.append((target, match))
    only_new = [target for target in new if target["target"] in new_by_text]
    shorter = min(len(only_old), len(only_new))
    pairs += zip(only_old[:shorter], only_new[:shorter], strict=True)
    return pairs, only_old[shorter:], only_new[shorter:]


def differences(old: Verdicts, new: Verdicts) -> list[str]:
    """One line per target whose verdict differs, or that only one run has."""
    lines = []
    for title in sorted(old.keys() | new.keys()):
        if title not in new or title not in old:
            lines.append(f"{title}: only in the {'old' if title in old else 'new'} run")
            continue
        busy = " (a busy machine in one run)" if old[title]["busy"] or new[title]["busy"] else ""
        pairs, only_old, only_new = _paired(old[title]["targets"], new[title]["targets"])
        lines += [
            f"{title}: {after['target']}: {before['verdict']} -> {after['verdict']}{busy} "
            f"(measured {before['measured'] or '–'}, then {after['measured'] or '–'}{_foreseen(before)})"
            for before, after in pairs
            if before["verdict"] != after["verdict"]
        ]
        lines += [f"{title}: {target['target']}: only in the old run" for target in only_old]
        lines += [f"{title}: {target['target']}: only in the new run" for target in only_new]
    return lines


def _foreseen(target: TargetRecord) -> str:
    agreement = target.get("agreement")
    if agreement is None:
        return ""
    if "unconfirmed" in target:
        return f"; its samples alone said {target['unconfirmed']}, which {agreement:.0%} of its resamples gave"
    return f"; {agreement:.0%} of the first run's resamples gave its verdict"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.compare OLD.json NEW.json", file=sys.stderr)
        return 2
    old, new = (load_verdicts(Path(name)) for name in argv)
    if not old or not new:
        print(f"no verdicts in {argv[0] if not old else argv[1]}", file=sys.stderr)
        return 2
    found = differences(old, new)
    compared = sum(len(section["targets"]) for title, section in new.items() if title in old)
    for line in found:
        print(line)
    print(f"{len(found)} difference(s) over {compared} target(s) in {len(old.keys() & new.keys())} section(s)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
