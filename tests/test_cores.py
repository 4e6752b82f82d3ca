"""Threads per model: a fixed n_jobs, or with -1 the cores other processes leave free."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from automl.search._cores import CoreBudget, available_cores


def scripted(budget: CoreBudget, samples: list[tuple[float, float, float]]) -> None:
    it = iter(samples)
    budget._sample = lambda: next(it)  # type: ignore[method-assign]
    budget._last = budget._sample()


def test_fixed_n_jobs_is_kept_whatever_the_load():
    budget = CoreBudget(3, cores=2)
    scripted(budget, [(0.0, 0.0, 0.0), (1.0, 2.0, 0.0)])
    assert budget.threads() == 3


def test_minus_one_leaves_the_cores_other_processes_use_and_says_so():
    messages: list[str] = []
    budget = CoreBudget(-1, cores=4, messages=messages)
    # wall seconds, machine busy CPU seconds, this process's CPU seconds
    scripted(budget, [(0.0, 0.0, 0.0), (1.0, 3.0, 1.0), (2.0, 6.0, 3.0), (3.0, 7.0, 3.5), (4.0, 10.0, 6.5)])
    assert budget.threads() == 2  # others used 2 cores
    assert budget.threads() == 3  # others used 1 core
    assert budget.threads() == 4  # others used 0.5 of a core: below the busy share
    assert budget.threads() == 4
    assert messages == [
        "other processes keep 2 of 4 cores busy: models use 2 thread(s)",
        "other processes keep 1 of 4 cores busy: models use 3 thread(s)",
        "all 4 cores free again: models use 4 threads",
    ]


def test_minus_one_never_goes_below_one_thread():
    budget = CoreBudget(-1, cores=2)
    scripted(budget, [(0.0, 0.0, 0.0), (1.0, 2.0, 0.0)])
    assert budget.threads() == 1


def spin(*prefix: str) -> subprocess.Popen:
    return subprocess.Popen([*prefix, sys.executable, "-c", "while True: pass"])


def threads_while(spinner: subprocess.Popen) -> tuple[int, int]:
    budget = CoreBudget(-1)
    try:
        time.sleep(0.5)
        budget.others_busy()
        time.sleep(1.0)
        return budget.threads(), budget.cores
    finally:
        spinner.kill()
        spinner.wait()


@pytest.mark.skipif(available_cores() < 2, reason="needs two cores: one for the other process, one left free")
def test_a_process_spinning_on_one_core_takes_one_thread_away():
    threads, cores = threads_while(spin())
    assert threads == cores - 1


@pytest.mark.skipif(available_cores() < 2 or shutil.which("nice") is None, reason="needs two cores and nice(1)")
def test_a_niced_process_takes_no_thread_away():
    threads, cores = threads_while(spin("nice", "-n", "19"))
    assert threads == cores
