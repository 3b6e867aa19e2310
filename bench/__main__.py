"""`python -m bench [section ...]`: runs the benchmarks and writes docs/benchmarks.md and each
target's verdict to docs/bench-verdicts.json (`python -m bench.compare` compares two runs).

`make bench SECTIONS="layers local" REPEATS=40` runs those sections with at least 40 interleaved
repetitions (BENCH_REPEATS) in the sections that repeat until stable, and never fewer than each
section's own minimum, chosen so that a verdict on a median rests on enough repetitions to
survive a rerun: layers 25, local model 15; api_load (BENCH_LOAD_REPEATS) and scale-out
(BENCH_SCALE_REPEATS) run at least 3 and repeat a level while one of its verdicts is not steady;
memory repeats a third as often (at least 3), as neighbours do not move its figures. Sizes come
from environment variables (BENCH_CHUNKS, BENCH_MEMORY_CHUNKS, BENCH_LOAD_LEVELS, BENCH_WS_SIZES_KB, BENCH_WS_REPEATS,
BENCH_BROWSER_SAMPLES, BENCH_STOP_SAMPLES, BENCH_SCALE_LEVELS) so a quick run fits a busy machine; the page says what
each section took. Naming sections reruns only those: the page keeps the others' last results.
Each section records the machine's load around it and is marked busy when other processes took a
share of the CPU meanwhile (bench/context.py).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from bench.compare import load_verdicts, write_verdicts
from bench.context import BUSY_MARK, BUSY_SHARE, Probe, adopt_orphans
from bench.report import Section, machine_description
from bench.stats import RESAMPLES, STEADY_AGREEMENT, Repetition

DOCS = Path(__file__).resolve().parent.parent / "docs"
VERDICTS = DOCS / "bench-verdicts.json"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name) or str(default)  # set but empty counts as unset
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}") from None


def _sections() -> dict[str, Callable[[], Section]]:
    from bench.api_load import measure_api_load
    from bench.browser_latency import FIRST_CHUNK_SAMPLES, measure_browser_stop_latency, measure_first_chunk_latency
    from bench.layers import measure_layers
    from bench.local_model import measure_local_model
    from bench.local_prompt import measure_local_prompt
    from bench.memory import measure_memory
    from bench.scale_out import measure_scale_out
    from bench.stop_latency import measure_stop_latency
    from bench.websocket_cost import measure_websocket_cost

    # A median judged on n repetitions lies between two order statistics (bench.stats): the 2nd and
    # 8th of 9, the 4th and 12th of 15, the 8th and 18th of 25, so no few repetitions decide it.
    repeats = _env_int("BENCH_REPEATS", 9)
    # Layers: the overheads sit near their limits (+5%, +25%) and the paired CPU ratios spread
    # ±15% on a shared machine, so the verdict needs many repetitions; 5,000 chunks a run (about
    # 4 s a repetition) fits twice as many in the budget as 10,000 did, and runs closer together
    # in time share more of the machine's noise.
    layers_rule = Repetition(max(repeats, 25), max(repeats, 61), 0.02, 240)
    return {
        "layers": lambda: measure_layers(_env_int("BENCH_CHUNKS", 5_000), layers_rule),
        "api_load": lambda: measure_api_load(os.environ.get("BENCH_LOAD_LEVELS", "100,200,500"), DOCS),
        "local": lambda: measure_local_model(Repetition(max(repeats, 15), max(repeats, 40), 0.05, 240)),
        "local_prompt": lambda: measure_local_prompt(),
        # Cheap (a few ms each): 120 samples put the p95's upper bound below the slowest one.
        "stop": lambda: measure_stop_latency(_env_int("BENCH_STOP_SAMPLES", 120)),
        "memory": lambda: measure_memory(_env_int("BENCH_MEMORY_CHUNKS", 100_000), max(3, repeats // 3)),
        "websocket": lambda: measure_websocket_cost(
            os.environ.get("BENCH_WS_SIZES_KB", "10,50,100"), DOCS, _env_int("BENCH_WS_REPEATS", 3)
        ),
        "first_chunk": lambda: measure_first_chunk_latency(_env_int("BENCH_BROWSER_SAMPLES", FIRST_CHUNK_SAMPLES)),
        "browser_stop": lambda: measure_browser_stop_latency(_env_int("BENCH_BROWSER_SAMPLES", 20)),
        "scale_out": lambda: measure_scale_out(
            os.environ.get("BENCH_SCALE_LEVELS") or "100,200,500", _env_int("BENCH_SCALE_REPEATS", 3)
        ),
    }


def _kept_sections(page: Path) -> dict[str, str]:
    """The sections of an earlier page by title ("## " headings), as markdown."""
    if not page.exists():
        return {}
    _, *chunks = ("\n" + page.read_text()).split("\n## ")
    return {chunk.split("\n", 1)[0]: "## " + chunk.rstrip("\n") + "\n" for chunk in chunks}


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    available = _sections()
    chosen = argv or list(available)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        print(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(available)}", file=sys.stderr)
        return 2
    DOCS.mkdir(exist_ok=True)
    adopt_orphans()  # what the benchmark starts stays in its CPU accounting (bench/context.py)
    results = []
    for name in chosen:
        started = time.perf_counter()
        print(f"bench: {name} ...", flush=True)
        probe = Probe.start()
        section = available[name]()
        section.context = probe.finish()
        section.duration_s = time.perf_counter() - started
        results.append(section)
        print(f"bench: {name} done in {section.duration_s:.0f} s", flush=True)
    # A run of some sections keeps the others' last results, so the page always shows them all.
    sections = _kept_sections(DOCS / "benchmarks.md") | {section.title: section.to_markdown() for section in results}
    records = load_verdicts(VERDICTS) | {section.title: section.to_record() for section in results}
    records = {title: record for title, record in records.items() if title in sections}
    durations = [records[title]["duration_s"] if title in records else None for title in sections]
    page = [
        "# Benchmarks",
        "",
        'Regenerated by `make bench` (`make bench SECTIONS="layers local" REPEATS=15` reruns some, with at least '
        "that many repetitions); sections: " + ", ".join(available) + ".",
        f"Machine: {machine_description()}.",
        "Each figure is the median and min–max of its repetitions (n): compare rows within a table (measured "
        "side by side), and treat absolute numbers as this machine's. A target is **met** when the whole spread "
        "meets it (or, for a target on a percentile, where that percentile lies), **MISSED** when none of it "
        "does, and **inconclusive** when the spread straddles the limit; each target says what it is judged on. "
        "The spread of a target judged on min–max is where the distribution reaches ('reaches'): min–max "
        "widened by range/(n−1) on each side, the unbiased estimate of a uniform distribution's ends, because "
        "a few samples fall short of where a rerun lands (3 span half the width on average) and a verdict on "
        "bare min–max flipped between reruns; from 4 samples on, each side by twice its distance from the "
        "median over n−1, so an outlier widens its own side only. "
        f"A met or missed verdict counts only when at least {STEADY_AGREEMENT:.0%} of {RESAMPLES:,} bootstrap "
        "resamples of its own samples reproduce it (for a verdict on reach, each resampled value moved at random "
        "within ±range/(n−1), so the resamples land as far as the reach does); otherwise it is **inconclusive**, "
        "and the page says what the samples alone gave, since such verdicts flipped between two runs. An "
        "inconclusive verdict that fewer resamples reproduce is marked 'a rerun may differ'; quote only the others. "
        f"The verdicts are also in `{VERDICTS.name}` (`python -m bench.compare OLD NEW` lists what changed "
        f"between two runs; `make bench-twice` runs twice and compares). {_duration(durations)}",
        *_busy_warning(sections.values()),
        "",
        *(sections[title] for title in sorted(sections)),
    ]
    (DOCS / "benchmarks.md").write_text("\n".join(page))
    write_verdicts(VERDICTS, records)
    verdicts = Counter(target.verdict.value for section in results for target in section.targets)
    print(f"bench: wrote {DOCS / 'benchmarks.md'}; targets: {dict(verdicts)}", flush=True)
    return 0


def _duration(durations: list[float | None]) -> str:
    """What a run of every section on the page costs, from each one's last run (None: not timed)."""
    timed = [duration for duration in durations if duration is not None]
    if not timed:
        return ""
    if len(timed) == len(durations):
        return f"A run of every section took about {sum(timed) / 60:.0f} min; each section says its own time."
    return (
        f"The {len(timed)} timed sections took about {sum(timed) / 60:.0f} min ({len(durations) - len(timed)} "
        "not timed yet); each section says its own time."
    )


def _busy_warning(sections: Iterable[str]) -> list[str]:
    busy = [markdown.split("\n", 1)[0].removeprefix("## ") for markdown in sections if BUSY_MARK in markdown]
    if not busy:
        return []
    return [
        "",
        f"> {BUSY_MARK}: other processes took more than {BUSY_SHARE:.0%} of the CPU while these sections ran: "
        f"{', '.join(busy)}. Their wall-clock figures and verdicts may not be this code's; rerun them "
        "(`make bench SECTIONS=...`) on a quiet machine.",
    ]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
