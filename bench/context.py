"""How busy the machine was while a section ran: load averages, and the CPU other processes took."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from bench.stats import children_cpu_s, load_average

# Other processes taking more than this share of all cores during a section make it "busy": on
# 2 cores, half a core. The load average cannot say it: it counts the benchmark's own previous
# section (api_load keeps both cores busy, and the 1-minute figure decays over minutes).
BUSY_SHARE = 0.25
BUSY_MARK = "**Busy machine**"


@dataclass(frozen=True, slots=True)
class MachineContext:
    load_before: float  # 1-minute load average
    load_after: float
    others_share: float  # CPU of every other process during the section, as a share of all cores
    cores: int

    @property
    def busy(self) -> bool:
        return self.others_share > BUSY_SHARE

    def to_markdown(self) -> str:
        line = (
            f"Machine: 1-minute load average {self.load_before:.2f} before, {self.load_after:.2f} after "
            f"({self.cores} cores); other processes used {self.others_share:.0%} of the CPU meanwhile."
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
        return cls(time.monotonic(), load_average(), machine_cpu_s(), _own_cpu_s())

    def finish(self) -> MachineContext:
        """Other processes' CPU is the machine's minus ours (this process and the servers and
        browsers it started and has reaped)."""
        cores = os.cpu_count() or 1
        elapsed = time.monotonic() - self.at
        others = (machine_cpu_s() - self.machine_cpu_s) - (_own_cpu_s() - self.own_cpu_s)
        share = max(others, 0.0) / (elapsed * cores) if elapsed > 0 else 0.0
        return MachineContext(self.load, load_average(), share, cores)


def _own_cpu_s() -> float:
    return time.process_time() + children_cpu_s()


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
