"""Distributed search on PostgreSQL: ``automl run --storage`` and two ``automl worker`` processes
share one study; one worker is killed mid-trial and the study still accounts for every trial.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

import automl
from automl.search import _study
from tests.conftest import make_frame

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(400),
    pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize"),
]

#: Enough trials that the killed one (a worker's first, a few seconds in) is found stale and retried
#: long before the count completes. With 16, the two live processes could complete the count within
#: its grace period (3 heartbeats) by asking at the same moment, and it stayed RUNNING.
N_TRIALS = 40


def _cli(*args: str, url: str) -> subprocess.Popen[str]:
    # The URL (with its password) goes through the environment, never the command line.
    env = {**os.environ, "AUTOML_STORAGE": url, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "automl", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _study_of(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _freeze_mid_trial(proc: subprocess.Popen[str], running_in: object) -> int:
    """Stop ``proc`` (SIGSTOP) while the storage shows it running a trial; return that trial's number.

    A quick trial can finish between reading its state and a kill, so the worker is frozen first
    and the state read while it cannot write; when its trial finished in between, it resumes and
    the next trial is tried.
    """
    for _ in range(20):
        _wait(lambda: running_in(proc), 120, "the first worker to run a trial")  # type: ignore[operator]
        proc.send_signal(signal.SIGSTOP)
        running = running_in(proc)  # type: ignore[operator]
        if running:
            return running[0].number
        proc.send_signal(signal.SIGCONT)
    raise AssertionError("the worker finished every trial before it could be frozen mid-trial")


def test_two_workers_one_killed_mid_trial_every_trial_accounted_for(postgres_url: str, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    make_frame("binary", n=1200).to_csv(data, index=False)  # 3-fold CV: quick trials
    name = f"workers-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "run"
    main = _cli(
        "run", str(data), "--target", "y", "--study", name, "--out", str(out), "--n-trials", str(N_TRIALS),
        "--time-budget", "300", "--frameworks", "sklearn", "--n-jobs", "1", "--heartbeat", "1", "--json",
        url=postgres_url,
    )

    def study_ready() -> bool:
        try:
            return _study.SPEC_ATTR in _study_of(postgres_url, name).user_attrs
        except KeyError:
            return False

    _wait(study_ready, 120, "the main process to create the study")
    workers = [_cli("worker", "--study", name, "--n-jobs", "1", url=postgres_url) for _ in range(2)]

    def running_in(proc: subprocess.Popen[str]) -> list[optuna.trial.FrozenTrial]:
        return [
            t for t in _study_of(postgres_url, name).get_trials(states=(optuna.trial.TrialState.RUNNING,))
            if t.user_attrs.get("worker", "").endswith(f":{proc.pid}")
        ]

    killed = _freeze_mid_trial(workers[0], running_in)
    workers[0].send_signal(signal.SIGKILL)  # as a crash, an OOM kill or a lost machine would
    main_out, _ = main.communicate(timeout=360)
    assert main.returncode == 0, main_out
    survivor_out, _ = workers[1].communicate(timeout=120)
    workers[0].communicate(timeout=10)
    assert workers[1].returncode == 0, survivor_out
    assert "Worker done" in survivor_out

    trials = _study_of(postgres_url, name).get_trials()
    states = {t.number: t.state for t in trials}
    unfinished = [(t.number, t.state.name, t.system_attrs, t.user_attrs) for t in trials if not t.state.is_finished()]
    assert not unfinished, f"killed trial {killed}; left RUNNING or WAITING: {unfinished}"
    assert states[killed] == optuna.trial.TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retries) == 1 and retries[0].state.is_finished()
    assert retries[0].params.items() >= trials[killed].params.items()
    retried = {t.system_attrs["failed_trial"] for t in trials if "failed_trial" in t.system_attrs}
    assert sum(t.number not in retried for t in trials) >= N_TRIALS
    ran_by = {t.user_attrs.get("worker", "").rsplit(":", 1)[-1] for t in trials}
    assert {str(main.pid), str(workers[0].pid), str(workers[1].pid)} <= ran_by

    result = json.loads(main_out[main_out.index("{"):])
    assert result["best_framework"] == "sklearn"
    loaded = automl.load(out)
    board = loaded.leaderboard
    reason = board.loc[board.trial == killed, "failure_reason"].iloc[0]
    assert "no heartbeat" in reason
    # The password appears in no output and in nothing written to the run directory.
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in main_out + survivor_out
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".csv"):
            assert password not in path.read_text(errors="ignore"), path


def test_worker_errors_are_clear(postgres_url: str, tmp_path: Path) -> None:
    missing = _cli("worker", "--study", "no-such-study", url=postgres_url)
    out, _ = missing.communicate(timeout=120)
    assert missing.returncode == 2 and "no study 'no-such-study'" in out
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in out and "***" in out

    wrong = postgres_url.replace(password, "not-the-password")
    bad = _cli("worker", "--study", "x", url=wrong)
    out, _ = bad.communicate(timeout=120)
    assert bad.returncode == 2 and "could not open storage" in out
    assert "not-the-password" not in out

    # A study started on a DataFrame has no file for workers to read.
    name = f"frame-{uuid.uuid4().hex[:8]}"
    automl.fit(make_frame("binary", n=60), "y", n_trials=1, frameworks=["sklearn"], storage=postgres_url,
               study_name=name, verbosity=0)
    frame_only = _cli("worker", "--study", name, url=postgres_url)
    out, _ = frame_only.communicate(timeout=120)
    assert frame_only.returncode == 2 and "passed as a DataFrame" in out
