"""What a benchmarked process costs: CPU seconds and resident memory of its whole process tree.

The bot may start children (the schema-upgrade child, ``python -m bot.storage upgrade``), so
every number covers the process, its live descendants and the children it has already reaped
(their CPU seconds are in ``children_user`` / ``children_system`` of ``psutil.cpu_times()``,
i.e. Linux ``/proc/PID/stat`` cutime and cstime). Resident memory is sampled (psutil
``memory_info().rss``), since a child's own peak (VmHWM) is gone once it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import psutil

MIB = 1024 * 1024


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size of one process (Linux VmHWM), in MiB; NaN if unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _tree(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of ``process``, its live descendants and its reaped children."""
    total = 0.0
    for member in _tree(process):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = member.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def tree_rss_mib(process: psutil.Process) -> float:
    """Resident set size of ``process`` and its live descendants together, in MiB."""
    total = 0
    for member in _tree(process):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += member.memory_info().rss
    return total / MIB


class TreeSampler:
    """Samples the process tree's resident set every ``interval`` seconds; keeps the peak (MiB).

    The peak is at least the main process's own VmHWM (read by :meth:`peak`), so a spike shorter
    than ``interval`` in the main process still counts; a child's shorter spike may be missed.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_tree = 0.0

    def sample(self) -> float:
        """The tree's resident set now (MiB); updates the peak."""
        now = tree_rss_mib(self.process)
        self.peak_tree = max(self.peak_tree, now)
        return now

    def peak(self) -> float:
        """The highest resident set of the tree seen so far, in MiB."""
        return max(self.peak_tree, peak_rss_mib(self.process.pid))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[TreeSampler]:
        """Sample in the background while the block runs."""

        async def loop() -> None:
            while True:
                self.sample()
                await asyncio.sleep(self.interval)

        task = asyncio.create_task(loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
