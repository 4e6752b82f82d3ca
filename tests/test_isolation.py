"""Trials in a child process: every way a trial can fail is contained, and the next trial runs."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import optuna
import pandas as pd
import psutil
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from automl.search import _cores
from automl.search._folds import fit_folds
from automl.search._isolation import GRACE_SECONDS, TrialFailed, TrialProcess
from tests import _misbehaving as bad

pytestmark = pytest.mark.skipif(os.name != "posix", reason="trials in a child process need POSIX")

MEMORY_CAP_MB = 600
CLASSES = np.array([0, 1])


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series, list]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    y = pd.Series((X["a"] + rng.normal(scale=0.5, size=100) > 0).astype(int))
    return X, y, list(KFold(3, shuffle=True, random_state=0).split(X))


@pytest.fixture(scope="module")
def proc(data):
    X, y, splits = data
    with TrialProcess(
        X, y, splits, get_scorer("roc_auc"), classes=CLASSES, keep_oof=True, metric_name="roc_auc",
        memory_limit_mb=MEMORY_CAP_MB,
    ) as p:
        yield p


def good() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression())


def run(proc: TrialProcess, estimator: object, seconds: float = 20.0, **kw):
    kw.setdefault("report", None)
    return proc.run(estimator, deadline=time.monotonic() + seconds, n_threads=1, **kw)


def recovers(proc: TrialProcess) -> None:
    result = run(proc, good())
    assert len(result.scores) == 3 and 0.5 < result.value <= 1.0


def test_results_match_the_fold_loop_in_this_process(proc, data):
    X, y, splits = data
    here = fit_folds(
        good(), X, y, splits, get_scorer("roc_auc"), deadline=time.monotonic() + 20, report=None, n_threads=1,
        classes=CLASSES, keep_oof=True, metric_name="roc_auc",
    )
    there = run(proc, good())
    assert there.scores == here.scores
    assert all(np.array_equal(a, b) for a, b in zip(there.oof, here.oof, strict=True))
    assert there.first_model is None  # not asked for


def test_the_first_fold_model_comes_back_only_when_asked(proc, data):
    X = data[0]
    kept = run(proc, good(), keep_model=True).first_model
    assert kept.predict(X).shape == (len(X),)
    assert run(proc, good(), keep_model=lambda r: r.value > 0.5).first_model is not None
    assert run(proc, good(), keep_model=lambda r: r.value > 2).first_model is None


def test_an_exception_fails_the_trial_with_its_type_and_message(proc):
    with pytest.raises(TrialFailed, match="ValueError: this configuration cannot be fitted") as info:
        run(proc, bad.Raises())
    assert "Traceback" in info.value.child_traceback
    pid = proc.pid
    recovers(proc)
    assert proc.pid == pid  # an exception does not cost the process


def test_non_finite_predictions_fail_the_trial(proc):
    with pytest.raises(TrialFailed, match="ValueError: .*NaN"):
        run(proc, bad.PredictsNaN())
    recovers(proc)


def test_a_trial_that_hangs_is_killed_after_its_deadline(proc):
    started = time.monotonic()
    with pytest.raises(TrialFailed, match=r"did not stop by its deadline: killed after \d+\.\d s"):
        run(proc, bad.Hangs(ignore_sigterm=True), seconds=0.5)  # SIGTERM ignored: SIGKILL 1 s later
    assert GRACE_SECONDS < time.monotonic() - started < 10
    assert proc.pid is None
    recovers(proc)  # a fresh process, fed the data again
    assert proc.starts >= 2


def test_a_trial_over_the_memory_cap_is_killed(proc):
    with pytest.raises(TrialFailed, match=rf"exceeded the memory cap of {MEMORY_CAP_MB} MB \(RSS \d+ MB\)"):
        run(proc, bad.EatsMemory(mb=1500))
    recovers(proc)


@pytest.mark.parametrize(("how", "reason"), [("segv", "crashed with SIGSEGV"), ("exit", "exited with code 3")])
def test_a_trial_that_kills_its_process_fails_with_the_signal_or_code(proc, how, reason):
    with pytest.raises(TrialFailed, match=reason):
        run(proc, bad.KillsItself(how))
    recovers(proc)


def test_a_process_it_forked_does_not_hide_its_death_and_is_killed_too(proc, tmp_path):
    pid_file = tmp_path / "orphan.pid"
    started = time.monotonic()
    with pytest.raises(TrialFailed, match="crashed with SIGSEGV"):
        run(proc, bad.KillsItself("segv", orphan_pid_file=str(pid_file)))
    assert time.monotonic() - started < 5  # not at the deadline, 20 s away
    orphan = int(pid_file.read_text())
    time.sleep(0.2)  # reaped by init
    assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE
    recovers(proc)


def test_pruning_goes_through_the_parent_and_stops_the_fit(proc):
    seen: list[int] = []

    def report(step: int, value: float) -> None:
        seen.append(step)
        if step == 2:
            raise optuna.TrialPruned(f"pruned at step {step}")

    with pytest.raises(optuna.TrialPruned, match="pruned at step 2"):
        run(proc, bad.Reports(), report=report)
    assert seen == [0, 1, 2]
    seen.clear()
    run(proc, bad.Reports(), report=lambda step, value: seen.append(step))
    assert seen == [0, 1, 2, 3, 4]  # the first fold only


def test_ctrl_c_while_waiting_kills_the_child_and_is_raised(proc):
    # Python's own handler (raise KeyboardInterrupt), whatever an earlier test or library left installed:
    # once, in a full run, the SIGINT was swallowed and the trial ran to its deadline.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run(proc, good())
        pid = proc.pid
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            run(proc, bad.Hangs(seconds=30))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not psutil.pid_exists(pid)
    recovers(proc)


def test_the_child_counts_as_our_cpu_and_close_leaves_no_process(data):
    X, y, splits = data
    p = TrialProcess(X, y, splits, get_scorer("roc_auc"), classes=CLASSES, keep_oof=False, metric_name="roc_auc")
    run(p, good())
    pid = p.pid
    assert pid in _cores._WORKERS and _cores._workers_cpu_seconds() > 0
    p.close()
    assert not psutil.pid_exists(pid)  # exited and reaped: no zombie
    assert pid not in _cores._WORKERS
    assert pid not in [c.pid for c in psutil.Process().children(recursive=True)]
    p.close()  # twice is fine
