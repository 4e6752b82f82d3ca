"""Where the study lives: in memory, in a run directory's journal file, or in an RDB server.

A run directory keeps its search state in ``search/``::

    search/study.journal   Optuna's JournalStorage (one JSON line per change, appended and fsync'd)
    search/owner.lock      held (flock) by the one process searching this run

The study's user attributes hold the run's specification (``automl_spec``, a
:class:`~automl.search._spec.RunSpec`: data source and fingerprint, target, task, metric,
frameworks, budget, seed, options), so ``automl resume`` and ``automl worker`` rebuild the same
search from the study alone. Trials whose process died (RUNNING in a journal nobody holds, or
stale heartbeats in an RDB storage) are failed and retried with Optuna's
:class:`~optuna.storages.RetryHeartbeatStaleTrialCallback`: no trial is lost.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automl.errors import InputError

logger = logging.getLogger("automl")

STUDY_NAME = "automl"
SEARCH_DIR = "search"
JOURNAL = "study.journal"
OWNER_LOCK = "owner.lock"
SPEC_ATTR = "automl_spec"
USED_ATTR = "seconds_used"
STATE_ATTR = "search_state"
#: Heartbeat of RDB storages: a trial whose process records none for GRACE_FACTOR intervals is stale.
HEARTBEAT_SECONDS = 10
GRACE_FACTOR = 3
#: A trial killed with its process is retried at most this often (then it stays failed).
MAX_RETRY = 2


def hide_password(url: str) -> str:
    """The URL as logs and manifests may show it: any password replaced by ``***``."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an SQLAlchemy URL (a path, a journal file): nothing secret in it
        return url


def is_url(storage: Any) -> bool:
    return isinstance(storage, str) and "://" in storage


def open_storage(storage: Any, *, heartbeat: int | None = HEARTBEAT_SECONDS) -> Any:
    """An Optuna storage from what the user passed: None (memory), a URL, a journal path or a storage.

    RDB URLs (``postgresql://``, ``mysql://``, ``sqlite:///``) get Optuna's heartbeat, so that a
    trial of a process that died is failed after ``GRACE_FACTOR`` missed beats and retried.
    """
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if isinstance(storage, Path) or (isinstance(storage, str) and not is_url(storage)):
        return journal_storage(Path(storage), owned=False)
    if not isinstance(storage, str):
        raise InputError(f"storage must be an Optuna storage, a database URL or a journal file path, got {storage!r}")
    kwargs: dict[str, Any] = {}
    if heartbeat:
        with quiet_optuna_warnings():
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
        kwargs = {
            "heartbeat_interval": int(heartbeat),
            "grace_period": int(heartbeat) * GRACE_FACTOR,
            "heartbeat_stale_trial_callback": retry,
        }
    try:
        with quiet_optuna_warnings():  # heartbeats and retries are "experimental" in Optuna 5
            return optuna.storages.RDBStorage(storage, engine_kwargs={"pool_pre_ping": True}, **kwargs)
    except ImportError as e:
        raise InputError(
            f"storage {hide_password(storage)}: the database driver is not installed ({e}); "
            "for PostgreSQL: pip install 'automl-recommender[postgres]'"
        ) from e
    except Exception as e:
        reason = f"{type(e).__name__}: {_scrub(e, storage)}"
        raise InputError(f"could not open storage {hide_password(storage)}: {reason}") from e


def _scrub(error: Exception, url: str) -> str:
    """An error message with the URL's password removed (drivers echo connection strings)."""
    text = str(error).splitlines()[0] if str(error) else ""
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:
        password = None
    return text.replace(str(password), "***") if password else text


def journal_storage(path: Path, *, owned: bool = True) -> optuna.storages.JournalStorage:
    """Optuna's journal storage in one file (created when absent).

    ``owned``: the caller holds the run's :class:`RunLock`, so no other process writes the file:
    a torn last line (a process killed while appending; Optuna would fail on the next line written
    after it) is cut off and a lock file left by a killed writer is removed. A journal path the user
    passes as ``storage`` may be shared by live processes and is opened as it is.
    """
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = Path(f"{path}.lock")
    if owned:
        _mend_journal(path)
    if owned and lock.exists():
        logger.info("removed a stale lock file %s left by a stopped process", lock.name)
        lock.unlink(missing_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def _mend_journal(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(size - 1, 0))
        if f.read(1) == b"\n":
            return
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
        logger.warning("%s ended in a partly written line (%d bytes, from a killed process): removed it",
                       path.name, size - keep)


class RunLock:
    """An exclusive lock on a run directory's search, released when the process ends (even killed)."""

    def __init__(self, search_dir: Path) -> None:
        self.path = search_dir / OWNER_LOCK
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise InputError(
                    f"the search in {self.path.parent.parent} is in use by another process; "
                    "wait for it to finish or stop it before resuming"
                ) from e
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def fingerprint(df: pd.DataFrame) -> str:
    """A hash of the frame's values, column names and dtypes: the same data gives the same string."""
    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy()
    # Order-sensitive combination of the row hashes (uint64 arithmetic wraps around).
    weights = np.arange(1, len(hashed) + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        rows = int(np.bitwise_xor.reduce(hashed * weights)) if len(hashed) else 0
    header = json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()])
    return hashlib.sha256(f"{rows:016x}|{len(df)}|{header}".encode()).hexdigest()[:32]


def recover_dead_trials(study: optuna.Study, reason: str) -> list[int]:
    """Fail the RUNNING trials of a study no live process owns and queue each again (once or twice).

    Used on resume, while holding the run's lock: every RUNNING trial in the journal belonged to a
    process that stopped. The retry goes through Optuna's RetryHeartbeatStaleTrialCallback, as the
    RDB heartbeat does for a worker that died.
    """
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    storage = study._storage
    numbers = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, "failure", reason)
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            storage.set_trial_state_values(t._trial_id, state=optuna.trial.TrialState.FAIL)
        retry(study, copy.deepcopy(storage.get_trial(t._trial_id)))
        numbers.append(t.number)
    return numbers


def retry_trial(study: optuna.Study, trial_id: int) -> None:
    """Queue a failed trial's parameters again (a trial interrupted by Ctrl-C is not lost)."""
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    retry(study, copy.deepcopy(study._storage.get_trial(trial_id)))


def supports_heartbeat(study: optuna.Study) -> bool:
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(study._storage)


def fail_stale_trials(study: optuna.Study) -> None:
    """Optuna's stale-trial check (RDB storages with a heartbeat): fail and retry dead workers' trials."""
    if supports_heartbeat(study):
        optuna.storages.fail_stale_trials(study)


@contextlib.contextmanager
def heartbeat(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Record the trial's heartbeat every interval while it runs (ask-and-tell has no built-in one)."""
    if not supports_heartbeat(study):
        yield
        return
    storage = study._storage
    interval = storage.get_heartbeat_interval()
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                storage.record_heartbeat(trial._trial_id)
            except Exception as e:  # a lost connection must not kill the trial; the next beat retries
                logger.debug("heartbeat of trial %d failed: %s", trial.number, e)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"automl-heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


@contextlib.contextmanager
def quiet_optuna_warnings() -> Iterator[None]:
    """Silence what Optuna warns about using heartbeats and retries outside ``study.optimize``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Hh]eartbeat.*", category=UserWarning)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield
