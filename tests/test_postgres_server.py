"""The PostgreSQL test server, and what Optuna does with it when several processes share a study.

These are the facts the distributed workers rely on: two processes can add trials to one study by
name; a trial whose heartbeat stops is failed by ``fail_stale_trials`` once the grace period has
passed, and ``RetryHeartbeatStaleTrialCallback`` queues its parameters again as a WAITING trial.
With ask/tell (rather than ``study.optimize``) nothing records heartbeats unless the worker calls
``storage.record_heartbeat(trial_id)``, and a trial with no heartbeat at all is never failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.engine import make_url

from tests._postgres import PostgresServer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(180),
    # Optuna warns whenever a heartbeat-enabled storage is used through ask() instead of optimize().
    pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize"),
]

HEARTBEAT_S, GRACE_S = 1, 2

# Each worker reads the storage URL from the environment, so that the password is not on a command line.
ADD_TRIALS = """
import os, sys, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name=sys.argv[1], storage=os.environ["STORAGE_URL"])
for _ in range(int(sys.argv[2])):
    trial = study.ask()
    x = trial.suggest_float("x", -1.0, 1.0)
    trial.set_user_attr("pid", os.getpid())
    study.tell(trial, x * x)
"""

# Starts a trial, records one heartbeat (or none), says which trial it is, then waits to be killed.
START_TRIAL_AND_HANG = """
import os, sys, time, warnings, optuna
warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.WARNING)
storage = optuna.storages.RDBStorage(os.environ["STORAGE_URL"], heartbeat_interval=1, grace_period=2)
study = optuna.load_study(study_name=sys.argv[1], storage=storage)
trial = study.ask()
trial.suggest_float("x", -1.0, 1.0)
if sys.argv[2] == "heartbeat":
    storage.record_heartbeat(trial._trial_id)
print(trial.number, flush=True)
time.sleep(600)
"""


def _python(script: str, *args: str, url: str, stdout: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "STORAGE_URL": url}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env, stdout=stdout, text=True)


def _new_study(url: str, on_stale: Callable[[optuna.Study, FrozenTrial], None] | None = None) -> optuna.Study:
    storage = RDBStorage(
        url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, heartbeat_stale_trial_callback=on_stale
    )
    return optuna.create_study(storage=storage, study_name=f"test-{uuid.uuid4().hex[:8]}")


def test_server_takes_the_password_and_hides_it(postgres_url: str) -> None:
    url = make_url(postgres_url)
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select current_user")).scalar() == url.username
    finally:
        engine.dispose()
    assert engine.dialect.driver == "psycopg"  # SQLAlchemy 2 opens postgresql:// with psycopg 3

    wrong = sqlalchemy.create_engine(url.set(password="wrong"))
    with pytest.raises(sqlalchemy.exc.OperationalError, match="password authentication failed"):
        wrong.connect()
    wrong.dispose()

    shown = url.render_as_string(hide_password=True)
    assert url.password and url.password not in shown
    assert shown.startswith(f"postgresql://{url.username}:***@127.0.0.1:")


def test_server_stops_without_leaving_anything(postgres_url: str) -> None:
    # A second server of our own: the session's one must keep running for the other tests.
    with PostgresServer() as server:
        data = server._data
        pid = int((data / "postmaster.pid").read_text().split()[0])
        assert server.url != postgres_url
    assert not data.parent.exists()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (waiting for init to reap it) counts as gone."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def test_two_processes_add_trials_to_one_study(postgres_url: str) -> None:
    study = _new_study(postgres_url)
    workers = [_python(ADD_TRIALS, study.study_name, "5", url=postgres_url) for _ in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]

    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 10
    assert sorted(t.number for t in trials) == list(range(10))
    assert {t.user_attrs["pid"] for t in trials} == {w.pid for w in workers}


def test_killed_workers_trial_is_failed_and_queued_again(postgres_url: str) -> None:
    study = _new_study(postgres_url, on_stale=RetryHeartbeatStaleTrialCallback(max_retry=1))
    beating, silent = (
        _python(START_TRIAL_AND_HANG, study.study_name, mode, url=postgres_url, stdout=subprocess.PIPE)
        for mode in ("heartbeat", "none")
    )
    try:
        number, other = (int(w.stdout.readline()) for w in (beating, silent))  # type: ignore[union-attr]
    finally:
        for w in (beating, silent):
            w.kill()
            w.wait()
    assert {t.number: t.state for t in study.get_trials()} == {number: TrialState.RUNNING, other: TrialState.RUNNING}

    deadline = time.monotonic() + GRACE_S + 15
    while study.get_trials()[number].state == TrialState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.5)
        fail_stale_trials(study)

    trials = study.get_trials()
    assert trials[number].state == TrialState.FAIL
    assert trials[other].state == TrialState.RUNNING  # it never recorded a heartbeat, so it is never stale
    (retry,) = [t for t in trials if t.state == TrialState.WAITING]
    assert retry.params == trials[number].params
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(retry) == number
    assert RetryHeartbeatStaleTrialCallback.retry_history(retry) == [number]

    # The next ask() anywhere takes the queued trial, and its suggestions return the same values.
    again = study.ask()
    assert again.number == retry.number
    assert again.suggest_float("x", -1.0, 1.0) == trials[number].params["x"]
    study.tell(again, 0.0)
