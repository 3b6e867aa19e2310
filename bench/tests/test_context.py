"""Whose CPU a section's busy flag counts: this process's tree versus every other process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from bench.context import machine_cpu_s, own_tree_cpu_s

ROOT = Path(__file__).resolve().parents[2]

BURN_S = 0.3  # CPU each of our processes burns, interpreter start included
UNRELATED_BURN_S = 0.6

BURN = """
import sys, time
def burn(seconds):
    while time.process_time() < seconds:
        pass
"""
# Burns, says so, then stays alive until its stdin closes.
LIVE = BURN + "burn({s}); print('burnt', flush=True); sys.stdin.read()"
# Starts a grandchild like itself and keeps it alive, then burns and waits the same way.
PARENT = (
    BURN
    + "import subprocess\n"
    + f"child = subprocess.Popen([sys.executable, '-c', {LIVE.format(s=BURN_S)!r}], stdin=subprocess.PIPE, "
    + "stdout=subprocess.PIPE)\n"
    + "child.stdout.readline()\n"
    + f"burn({BURN_S}); print('burnt', flush=True); sys.stdin.read()\n"
    + "child.stdin.close(); child.wait()"
)
# Leaves our tree before burning: a double fork in a new session, re-parented to init.
UNRELATED = (
    BURN
    + "import os\n"
    + "if os.fork() == 0:\n"
    + "    os.setsid()\n"
    + f"    if os.fork() == 0:\n        burn({UNRELATED_BURN_S}); print('burnt', flush=True)\n"
    + "    os._exit(0)\n"
    + "os.wait()"
)


@contextmanager
def _started(script: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        process.stdout.close()
        process.wait(timeout=30)


def test_own_tree_counts_live_children_grandchildren_and_ended_children_but_not_an_unrelated_process() -> None:
    """Regression: the busy flag counted live servers and browsers as other processes (issue 15)."""
    ours_before, machine_before = own_tree_cpu_s(), machine_cpu_s()
    with _started(PARENT) as parent, _started(UNRELATED) as launcher:
        ended = subprocess.run([sys.executable, "-c", BURN + f"burn({BURN_S})"], check=True)
        assert ended.returncode == 0
        assert parent.stdout is not None and launcher.stdout is not None
        assert parent.stdout.readline() == "burnt\n"  # the parent and its grandchild burnt and are alive
        assert launcher.stdout.readline() == "burnt\n"  # from the re-parented process, through the inherited pipe
        launcher.wait(timeout=30)
        ours = own_tree_cpu_s() - ours_before
        others = (machine_cpu_s() - machine_before) - ours
    # Three processes of ours burnt 0.3 s each; the launcher's start and this test's spawning add
    # a little. Counting the unrelated process too would add 0.6 s.
    assert 3 * BURN_S * 0.9 <= ours <= 3 * BURN_S + 0.4
    assert others >= UNRELATED_BURN_S * 0.8


def test_a_child_counts_once_whether_it_is_reaped_or_not() -> None:
    before = own_tree_cpu_s()
    process = subprocess.Popen([sys.executable, "-c", BURN + f"burn({BURN_S})"])
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # ended, left unreaped
    assert psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE
    unreaped = own_tree_cpu_s() - before
    process.wait()
    reaped = own_tree_cpu_s() - before
    assert BURN_S * 0.9 <= unreaped <= BURN_S + 0.1
    assert reaped == pytest.approx(unreaped, abs=0.03)  # its CPU moved into ours as a reaped child's


# Starts a launcher that starts a burning grandchild and ends at once, orphaning it. `run` returns
# when the grandchild ends: it holds the stdout pipe it inherited. In a process of its own, since
# adopting orphans lasts for the process and the test above needs it off.
ORPHANING = f"""
import subprocess, sys
from bench.context import adopt_orphans, own_tree_cpu_s
if sys.argv[1] == "adopt":
    assert adopt_orphans()
before = own_tree_cpu_s()
burner = {BURN + f"burn({BURN_S})"!r}
launcher = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', " + repr(burner) + "])"
subprocess.run([sys.executable, "-c", launcher], stdout=subprocess.PIPE, check=True)
print(own_tree_cpu_s() - before)
"""


@pytest.mark.parametrize("adopt", [True, False], ids=["adopting", "not-adopting"])
def test_an_orphaned_descendant_stays_ours_once_orphans_are_adopted(adopt: bool) -> None:
    """Regression: Chromium's processes outlive Playwright's driver, and their CPU counted as other processes'."""
    argument = "adopt" if adopt else "leave"
    command = [sys.executable, "-c", ORPHANING, argument]
    # From the checkout, as `make bench` runs: `python -c` puts the working directory on the path.
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    ours = float(result.stdout)
    if adopt:  # the orphan's burn, and the launcher's start
        assert BURN_S * 0.9 <= ours <= BURN_S + 0.4
    else:  # the launcher's start alone
        assert ours < BURN_S * 0.9
