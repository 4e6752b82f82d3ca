"""Interrupt and resume: Ctrl-C stops a run cleanly, and ``resume`` continues its study.

The study of a run directory lives in ``search/study.journal``; these tests stop real ``automl
run`` processes (SIGINT once, twice, and SIGKILL) and check that ``automl resume`` finishes the
study with no trial lost or run twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pandas as pd
import pytest

import automl
from automl.errors import InputError
from automl.search import _study
from tests.conftest import make_frame

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)


def _trials(run: Path) -> list[optuna.trial.FrozenTrial]:
    """The run's trials, read without touching its lock (another process may be writing)."""
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = str(run / "search" / "study.journal")
    storage = optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    return optuna.load_study(study_name=_study.STUDY_NAME, storage=storage).get_trials(deepcopy=False)


def _complete(run: Path) -> int:
    if not (run / "search" / "study.journal").exists():
        return 0
    try:
        return sum(t.state == optuna.trial.TrialState.COMPLETE for t in _trials(run))
    except (KeyError, ValueError):  # the study is being created
        return 0


def _start(csv: Path, run: Path, n_trials: int) -> subprocess.Popen[str]:
    cmd = [
        sys.executable, "-m", "automl", "run", str(csv), "--target", "y", "--out", str(run),
        "--n-trials", str(n_trials), "--time-budget", "300", "--frameworks", "sklearn", "--n-jobs", "1",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _wait_for_trials(proc: subprocess.Popen[str], run: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _complete(run) < n:
        assert proc.poll() is None, "the run ended before it was interrupted"
        assert time.monotonic() < deadline, f"no {n} trials within {timeout}s"
        time.sleep(0.1)


def _resume(run: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "automl", "resume", str(run), "--time-budget", "300", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _check_accounted(run: Path, n_trials: int) -> None:
    """Every trial finished; failures from the interruption were run again; no configuration twice."""
    trials = _trials(run)
    assert all(t.state in FINISHED for t in trials), Counter(t.state.name for t in trials)
    retried = {t.system_attrs["failed_trial"]: t for t in trials if "failed_trial" in t.system_attrs}
    for number, retry in retried.items():
        original = trials[number]
        assert original.state == optuna.trial.TrialState.FAIL
        assert "interrupted" in original.user_attrs["failure"]
        # The retry runs what the original had fixed (all of it, or the framework if cut off before sampling).
        assert original.params.items() <= retry.params.items()
    counted = [t for t in trials if t.number not in retried]
    assert len(counted) == n_trials
    configs = [tuple(sorted(t.params.items())) for t in counted if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(configs) == len(set(configs)), "a configuration ran twice"


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.csv"
    make_frame("binary", n=1200).to_csv(path, index=False)  # 3-fold CV: quick trials
    return path


@pytest.mark.slow
def test_ctrl_c_saves_the_best_so_far_and_resume_finishes_the_study(csv: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _start(csv, run, n_trials=8)
    _wait_for_trials(proc, run, 2)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "Ctrl-C: stopping the search" in out
    assert f"automl resume {run}" in out
    first = automl.load(run)  # a complete, loadable run directory
    assert first.best_framework == "sklearn" and "interrupted" in " ".join(first.messages)
    done_before = _complete(run)

    resumed = _resume(run)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "continuing it" in resumed.stderr
    _check_accounted(run, n_trials=8)
    assert _complete(run) > done_before
    result = automl.load(run)
    assert not result.interrupted and len(result.leaderboard) >= 8


@pytest.mark.slow
def test_a_killed_run_loses_no_trial(csv: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _start(csv, run, n_trials=7)
    _wait_for_trials(proc, run, 2)
    # Kill it while a trial runs, as a crash or an out-of-memory kill would.
    deadline = time.monotonic() + 60
    while not any(t.state == optuna.trial.TrialState.RUNNING for t in _trials(run)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.kill()
    proc.communicate()
    running = [t.number for t in _trials(run) if t.state == optuna.trial.TrialState.RUNNING]
    assert not (run / "manifest.json").exists()

    resumed = _resume(run)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    _check_accounted(run, n_trials=7)
    trials = _trials(run)
    for number in running:  # the trial cut off by the kill ran again
        assert trials[number].user_attrs["failure"].startswith("interrupted: the process stopped")
        assert any(t.system_attrs.get("failed_trial") == number for t in trials)
    assert automl.load(run).best_framework == "sklearn"


@pytest.mark.slow
def test_second_ctrl_c_aborts_and_the_run_can_still_resume(csv: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _start(csv, run, n_trials=6)
    _wait_for_trials(proc, run, 1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    resumed = _resume(run)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    _check_accounted(run, n_trials=6)


def test_python_fit_with_run_dir_resumes_with_more_trials(tmp_path: Path) -> None:
    df = make_frame("regression", n=120)
    before = df.copy()
    run = tmp_path / "run"
    first = automl.fit(df, "y", n_trials=3, time_budget=60, frameworks=["sklearn"], run_dir=run, verbosity=0)
    assert first.run_dir == str(run) and (run / "manifest.json").exists()
    assert len(_trials(run)) == 3
    second = automl.resume(run, df, n_trials=6, time_budget=60, verbosity=0)
    pd.testing.assert_frame_equal(df, before)
    _check_accounted(run, n_trials=6)
    assert len(second.leaderboard) == 6
    assert second.best_score >= first.best_score


def test_resume_refuses_changed_data_a_missing_search_and_a_used_budget(tmp_path: Path) -> None:
    df = make_frame("binary", n=100)
    run = tmp_path / "run"
    automl.fit(df, "y", n_trials=2, time_budget=60, frameworks=["sklearn"], run_dir=run, verbosity=0)
    changed = df.copy()
    changed.loc[0, "x1"] += 1
    with pytest.raises(InputError, match="differs from the data the run was started on"):
        automl.resume(run, changed, time_budget=10, verbosity=0)
    with pytest.raises(InputError, match="was started on a DataFrame"):
        automl.resume(run, time_budget=10, verbosity=0)
    with pytest.raises(InputError, match="holds no search to resume"):
        automl.resume(tmp_path / "elsewhere", df, verbosity=0)
    with pytest.raises(InputError, match="already exists and is not an empty folder; continue it"):
        automl.fit(df, "y", n_trials=2, frameworks=["sklearn"], run_dir=run, verbosity=0)

    spent = tmp_path / "spent"
    automl.fit(df, "y", time_budget=3, frameworks=["sklearn"], run_dir=spent, verbosity=0)
    with pytest.raises(InputError, match="pass time_budget="):
        automl.resume(spent, df, verbosity=0)


def test_a_run_in_use_cannot_be_resumed_twice(tmp_path: Path) -> None:
    df = make_frame("binary", n=100)
    run = tmp_path / "run"
    automl.fit(df, "y", n_trials=1, time_budget=60, frameworks=["sklearn"], run_dir=run, verbosity=0)
    with _study.RunLock(run / "search"), pytest.raises(InputError, match="in use by another process"):
        automl.resume(run, df, time_budget=10, verbosity=0)


@pytest.mark.slow
def test_a_torn_journal_line_is_mended(tmp_path: Path) -> None:
    df = make_frame("binary", n=100)
    run = tmp_path / "run"
    automl.fit(df, "y", n_trials=2, time_budget=60, frameworks=["sklearn"], run_dir=run, verbosity=0)
    journal = run / "search" / "study.journal"
    with open(journal, "ab") as f:
        f.write(b'{"op_code":5,"worker_id":"x","stu')  # a write cut off by a kill
    result = automl.resume(run, df, n_trials=3, time_budget=60, verbosity=0)
    assert journal.read_bytes().endswith(b"\n")
    assert len(result.leaderboard) == 3


def _study_of(run: Path) -> optuna.Study:
    """The study of a finished run (no process holds it)."""
    storage = _study.journal_storage(run / "search" / "study.journal")
    return optuna.load_study(study_name=_study.STUDY_NAME, storage=storage)


def _set_spec(run: Path, spec: dict) -> None:
    """Overwrite the run's recorded spec, as an older or a newer automl would have written it."""
    _study_of(run).set_user_attr(_study.SPEC_ATTR, spec)


def test_the_run_spec_is_versioned_and_a_run_of_the_old_layout_resumes(tmp_path: Path) -> None:
    from automl.search import RunSpec
    from automl.search._spec import SPEC_VERSION

    df = make_frame("binary", n=100)
    run = tmp_path / "run"
    automl.fit(df, "y", n_trials=2, time_budget=60, frameworks=["sklearn"], run_dir=run, verbosity=0)
    recorded = _study_of(run).user_attrs[_study.SPEC_ATTR]
    assert recorded["version"] == SPEC_VERSION
    spec = RunSpec.from_dict(recorded)
    assert spec.to_dict() == recorded and spec.frameworks == ("sklearn",) and spec.data.fingerprint
    # Written before the spec had a version (and a heartbeat): read as that layout, and resumed.
    old = {k: v for k, v in recorded.items() if k not in ("version", "heartbeat")}
    _set_spec(run, old)
    assert RunSpec.from_dict(old).heartbeat == _study.HEARTBEAT_SECONDS
    result = automl.resume(run, df, n_trials=3, time_budget=60, verbosity=0)
    assert len(result.leaderboard) == 3
    # Written by a newer automl: refused, with the fix.
    _set_spec(run, {**recorded, "version": SPEC_VERSION + 1})
    with pytest.raises(InputError, match=f"run spec version {SPEC_VERSION + 1}.*upgrade automl-recommender"):
        automl.resume(run, df, n_trials=4, time_budget=60, verbosity=0)
