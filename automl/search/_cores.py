"""How many threads a model may use: ``n_jobs``, or with ``-1`` the cores that other work leaves free.

OpenMP learners (scikit-learn's histogram boosting, XGBoost, LightGBM) spin while their threads
wait for each other. On idle cores that is the fast choice; when another process keeps a core busy,
a thread that spins waits for one that is not scheduled, and a trial takes many times longer
(``benchmarks/omp_threads.py`` measures both). So with ``n_jobs=-1`` each model gets the cores no
other process was using since the previous model started, measured from CPU times without waiting,
and never fewer than one. Processes running at a lower priority (``nice``) do not count: the
scheduler gives their cores to ours.
"""

from __future__ import annotations

import logging
import os
import time

logger = logging.getLogger("automl")

#: Another process's load counts as a busy core from this share of a core up.
BUSY_CORE_SHARE = 0.6
#: The first measurement, before any model ran, samples this long.
FIRST_SAMPLE_SECONDS = 0.1

#: Child processes that run our models (``automl.search._isolation``): their CPU time, and their own
#: children's, is ours. ``cpu_times().children_*`` covers a child only once it has exited and been
#: reaped, so without this a live trial process would look like another process keeping a core busy.
_WORKERS: set[int] = set()


def adopt(pid: int) -> None:
    """Count the process ``pid`` (and its children) as this process's own work."""
    _WORKERS.add(pid)


def release(pid: int) -> None:
    """Stop counting ``pid`` as ours (call before it is reaped: its time then moves to children_*)."""
    _WORKERS.discard(pid)


def _workers_cpu_seconds() -> float:
    """CPU seconds of the adopted processes that are alive, their children included."""
    import psutil

    total = 0.0
    for pid in list(_WORKERS):
        try:
            proc = psutil.Process(pid)
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
            for kid in proc.children(recursive=True):
                try:
                    k = kid.cpu_times()
                except (psutil.NoSuchProcess, psutil.ZombieProcess):
                    continue
                total += k.user + k.system
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return total


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class CoreBudget:
    """Threads per model: the fixed ``n_jobs``, or with -1 the cores left free by other processes."""

    def __init__(self, n_jobs: int, cores: int | None = None, messages: list[str] | None = None) -> None:
        self.n_jobs = n_jobs
        self.cores = cores or available_cores()
        self._last: tuple[float, float, float] | None = None
        self._threads = self.cores if n_jobs == -1 else n_jobs
        #: Where a change of thread count is told (the search's messages).
        self.messages: list[str] = [] if messages is None else messages

    def _sample(self) -> tuple[float, float, float]:
        """(wall seconds, busy CPU seconds of the machine, CPU seconds of this process)."""
        import psutil

        machine = psutil.cpu_times()
        # Niced processes ("nice") yield their cores to ours, and guest time is already in "user".
        busy = sum(getattr(machine, f, 0.0) for f in ("user", "system", "irq", "softirq", "steal"))
        own = psutil.Process().cpu_times()
        ours = own.user + own.system + own.children_user + own.children_system + _workers_cpu_seconds()
        return time.monotonic(), busy, ours

    def others_busy(self) -> float:
        """Cores used by other processes since the previous call (the first call samples briefly)."""
        if self._last is None:
            self._last = self._sample()
            time.sleep(FIRST_SAMPLE_SECONDS)
        now = self._sample()
        wall = now[0] - self._last[0]
        others = ((now[1] - self._last[1]) - (now[2] - self._last[2])) / wall if wall > 0 else 0.0
        self._last = now
        return min(max(others, 0.0), float(self.cores))

    def threads(self) -> int:
        """The thread count for the next model."""
        if self.n_jobs != -1:
            return self.n_jobs
        try:
            busy = int(self.others_busy() + 1.0 - BUSY_CORE_SHARE)
        except Exception as e:  # psutil missing a counter on an exotic platform: use every core
            logger.debug("could not measure busy cores: %s", e)
            return self.cores
        threads = max(1, self.cores - busy)
        if threads != self._threads:
            msg = (
                f"other processes keep {busy} of {self.cores} cores busy: models use {threads} thread(s)"
                if threads < self.cores else f"all {self.cores} cores free again: models use {threads} threads"
            )
            logger.info(msg)
            self.messages.append(msg)
            self._threads = threads
        return threads
