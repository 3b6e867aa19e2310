"""How busy the machine was while a section ran: load averages, and the CPU other processes took."""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass

import psutil

from bench.stats import load_average

# Other processes taking more than this share of all cores during a section make it "busy": on
# 2 cores, half a core. The load average cannot say it: it counts the benchmark's own previous
# section (api_load keeps both cores busy, and the 1-minute figure decays over minutes).
BUSY_SHARE = 0.25
BUSY_MARK = "**Busy machine**"
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


@dataclass(frozen=True, slots=True)
class MachineContext:
    load_before: float  # 1-minute load average
    load_after: float
    others_share: float  # CPU of every other process during the section, as a share of all cores
    cores: int
    own_share: float = 0.0  # CPU of this process and every process it started, the same way

    @property
    def busy(self) -> bool:
        return self.others_share > BUSY_SHARE

    def to_markdown(self) -> str:
        line = (
            f"Machine: 1-minute load average {self.load_before:.2f} before, {self.load_after:.2f} after "
            f"({self.cores} cores); other processes used {self.others_share:.0%} of the CPU meanwhile, the "
            f"benchmark's own processes {self.own_share:.0%}."
        )
        if self.busy:
            line = (
                f"{BUSY_MARK}: other processes used more than {BUSY_SHARE:.0%} of the CPU during this section; "
                f"wall-clock figures are not this code's alone. {line}"
            )
        return line


@dataclass(frozen=True, slots=True)
class Probe:
    """Readings taken when a section starts, to compare with when it ends."""

    at: float
    load: float
    machine_cpu_s: float
    own_cpu_s: float

    @classmethod
    def start(cls) -> Probe:
        return cls(time.monotonic(), load_average(), machine_cpu_s(), own_tree_cpu_s())

    def finish(self) -> MachineContext:
        """Other processes' CPU is the machine's minus ours (`own_tree_cpu_s`)."""
        cores = os.cpu_count() or 1
        capacity = (time.monotonic() - self.at) * cores
        ours = own_tree_cpu_s() - self.own_cpu_s
        others = (machine_cpu_s() - self.machine_cpu_s) - ours
        if capacity <= 0:
            return MachineContext(self.load, load_average(), 0.0, cores)
        return MachineContext(self.load, load_average(), max(others, 0.0) / capacity, cores, max(ours, 0.0) / capacity)


def adopt_orphans() -> bool:
    """Makes this process the reaper of its descendants' orphans (Linux): a process whose parent ends
    first is re-parented here instead of to init, so `own_tree_cpu_s` keeps counting it, alive or as
    a zombie (nothing here reaps a process it did not start, and /proc keeps a zombie's times until
    this process ends). Chromium's processes outlive their parent, Playwright's driver: without this
    about 22 s of their CPU per browser section went to the others' side and flagged the machine
    busy. False where the call is not available."""
    try:
        return bool(ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):  # not Linux
        return False


def own_tree_cpu_s() -> float:
    """CPU seconds of this process and every live descendant (servers, Chromium's zygote and
    renderers, PostgreSQL's backends under another user), each with its reaped children.

    A descendant's CPU moves into its parent's reaped-children figure when the parent waits for
    it, so the sum is unchanged by a process ending mid-section and the difference of two readings
    is what the tree spent in between. A process whose parent ends first stays in the tree once
    `adopt_orphans` has run (Chromium's do); otherwise it is re-parented to init and takes its CPU
    to the others' side.
    """
    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):  # ended since listed (its parent has it), or unreadable
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def machine_cpu_s() -> float:
    """CPU seconds the whole machine has been busy since boot, every process together (Linux
    /proc/stat: user, nice, system and steal; interrupts left out, as they serve our own sockets
    too). 0 where there is no /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(v) for v in stat.readline().split()[1:9])
    except (OSError, ValueError):
        return 0.0
    return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")
