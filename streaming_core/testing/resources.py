"""What this process holds (memory, file descriptors, sockets, threads), to compare before and after."""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, fields

import psutil


@dataclass(frozen=True, slots=True)
class Resources:
    rss_mb: float
    open_files: int  # every file descriptor: files, sockets, pipes, epoll
    sockets: int  # TCP connections and listeners, both ends (servers under test run in this process)
    threads: int

    def growth_over(self, base: Resources, *, rss_mb: float, handles: int) -> list[str]:
        """What grew past the allowance since `base`: `rss_mb` for memory, `handles` for the counts."""
        grown = []
        for field in fields(self):
            now, before = getattr(self, field.name), getattr(base, field.name)
            allowed = rss_mb if field.name == "rss_mb" else handles
            if now - before > allowed:
                grown.append(f"{field.name} {before:g} -> {now:g} (allowed +{allowed:g})")
        return grown


def measure() -> Resources:
    gc.collect()  # count what is still referenced, not what is waiting for the collector
    process = psutil.Process()
    return Resources(
        rss_mb=round(process.memory_info().rss / 2**20, 1),
        open_files=process.num_fds(),
        sockets=len(process.net_connections("tcp")),
        threads=threading.active_count(),
    )


def growth_after_settling(base: Resources, *, rss_mb: float, handles: int, timeout: float = 15) -> list[str]:
    """`growth_over(base)` once closing sockets and ending threads have had `timeout` s to finish."""
    deadline = time.monotonic() + timeout
    while (grown := measure().growth_over(base, rss_mb=rss_mb, handles=handles)) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling with a deadline: closes finish on other threads with no signal to wait on
    return grown
