"""Trials run in a child process, so that one that hangs or blows up its memory can be stopped.

In the search's own process a fit stuck in C code cannot be interrupted and a memory blow-up takes
the whole search down. :class:`TrialProcess` keeps one child process (a fresh interpreter running
:mod:`automl.search._isolation_child`: no fork, so OpenMP, TensorFlow and CUDA start clean, and unlike
multiprocessing's spawn the user's ``__main__`` is not re-imported) that receives the data once and then runs
the fold loop of :func:`automl.search._folds.fit_folds` for each trial it is sent. While the child works
the parent watches the clock and the child's memory; past the trial's deadline plus a grace
period, or over the memory cap, it kills the child's process group and the trial fails with that
reason. A child that dies by itself (a segfault, the kernel's out-of-memory killer) fails the
trial the same way. The next trial starts a fresh child.

Messages are pickles in length-prefixed frames on two pipes of their own (the child's stdout and
stderr stay the user's, so library prints do not corrupt them); numpy and pandas buffers travel
out of band (pickle protocol 5) and are not copied into one big bytes object on either side.
Estimators, scorers and fitted models go through cloudpickle (which scikit-learn's joblib brings),
so classes defined in a user's script pickle by value.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from automl.search import _cores
from automl.search._folds import FoldsResult

#: A trial's process is killed this long after its deadline at the least ...
GRACE_SECONDS = 2.0
#: ... or after this share of the time the trial had, whichever is longer.
GRACE_SHARE = 0.1
#: How often the parent checks the child's memory and the clock while a trial runs.
POLL_SECONDS = 0.1
#: After SIGTERM, the child's process group gets SIGKILL this much later.
KILL_AFTER_SECONDS = 1.0
#: A child that has not loaded the data this long after it started is given up.
START_TIMEOUT_SECONDS = 300.0
#: ``close()`` waits this long for the child to exit by itself before killing it.
CLOSE_TIMEOUT_SECONDS = 2.0

#: The child's first lines: this process's import path (a user's script folder, a test root, a
#: path added at run time), so that it imports this automl and the estimators' classes as we do.
_BOOTSTRAP = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from automl.search._isolation_child import main; raise SystemExit(main(sys.argv[2:]))"
)
_HEADER = struct.Struct("<QI")  # bytes of the pickle, number of out-of-band buffers
_LENGTH = struct.Struct("<Q")


class TrialFailed(RuntimeError):
    """A trial failed in its child process; the message says why (the child's error type and message)."""

    def __init__(self, message: str, child_traceback: str | None = None) -> None:
        super().__init__(message)
        #: The traceback as the child printed it, when the failure was an exception there.
        self.child_traceback = child_traceback


class IsolationError(RuntimeError):
    """The trial process could not be started or fed the data: no trial can run isolated."""


class _Stopped(Exception):
    """The child was killed or died; the message says why (turned into TrialFailed or IsolationError)."""


# -- framing ------------------------------------------------------------------------------------
def _dumps_by_value(obj: Any) -> bytes:
    """Pickle an estimator, scorer or model; classes from ``__main__`` go by value."""
    try:
        import cloudpickle  # a dependency of recent joblib releases (so of scikit-learn)
    except ImportError:
        try:
            from joblib.externals import cloudpickle  # type: ignore[no-redef]  # older joblib ships a copy
        except ImportError as e:
            raise ImportError("trials in a child process need cloudpickle: pip install cloudpickle") from e
    return cloudpickle.dumps(obj, protocol=5)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            raise EOFError("the other end of the pipe closed")
        got += k
    return buf


class Channel:
    """Pickled messages in length-prefixed frames over a pair of pipe file descriptors."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd

    def send(self, obj: Any) -> int:
        """Send ``obj``; returns the bytes written."""
        buffers: list[pickle.PickleBuffer] = []
        data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        raws = [b.raw() for b in buffers]
        header = _HEADER.pack(len(data), len(raws)) + b"".join(_LENGTH.pack(r.nbytes) for r in raws)
        for part in (memoryview(header), memoryview(data), *raws):
            _write_all(self.write_fd, part)
        return len(header) + len(data) + sum(r.nbytes for r in raws)

    def receive(self) -> Any:
        """The next message (blocks); ``EOFError`` when the other side has gone."""
        size, count = _HEADER.unpack(_read_exact(self.read_fd, _HEADER.size))
        lengths = [_LENGTH.unpack(_read_exact(self.read_fd, _LENGTH.size))[0] for _ in range(count)]
        data = _read_exact(self.read_fd, size)
        # bytearrays are writable, so arrays rebuilt on them are too (scikit-learn writes in place).
        return pickle.loads(data, buffers=[_read_exact(self.read_fd, n) for n in lengths])

    def readable(self, timeout: float) -> bool:
        """Whether a message (or end of file) is waiting, after up to ``timeout`` seconds."""
        poller = select.poll()  # not select.select: it fails on descriptors past 1023
        poller.register(self.read_fd, select.POLLIN)
        return bool(poller.poll(max(timeout, 0.0) * 1000))

    def close(self) -> None:
        """Close both ends (once: a file descriptor number is reused as soon as it is closed)."""
        fds, self.read_fd, self.write_fd = (self.read_fd, self.write_fd), -1, -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)


# -- the child, seen from the parent -------------------------------------------------------------
def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if -returncode == signal.SIGKILL:
            return f"the trial's process was killed by {name} (the kernel's out-of-memory killer?)"
        return f"the trial's process crashed with {name}"
    return f"the trial's process exited with code {returncode}"


class _Child:
    """One running child process and its pipes."""

    def __init__(self, env: dict[str, str]) -> None:
        import psutil

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable, *(f"-W{w}" for w in sys.warnoptions), "-c", _BOOTSTRAP,
                    json.dumps(sys.path), str(to_child_r), str(from_child_w),
                ],
                stdin=subprocess.DEVNULL,
                pass_fds=(to_child_r, from_child_w),
                start_new_session=True,  # its own process group, out of reach of the terminal's Ctrl-C
                env=env,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.channel = Channel(from_child_r, to_child_w)
        self.ps = psutil.Process(self.proc.pid)
        self.started = time.monotonic()
        _cores.adopt(self.proc.pid)

    def rss_mb(self) -> float:
        """Resident memory of the child and all its children, in MB."""
        import psutil

        total = 0
        for p in [self.ps, *self._descendants()]:
            try:
                total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                pass
        return total / 2**20

    def _descendants(self) -> list[Any]:
        import psutil

        try:
            return self.ps.children(recursive=True)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return []

    def _exited(self) -> bool:
        """Whether the child has exited, without reaping it (a zombie keeps its process group id taken)."""
        import psutil

        try:
            return self.ps.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    def stop(self, polite: bool) -> None:
        """End the child: ask it to exit (``polite``) or SIGTERM its group, then SIGKILL; reap it."""
        import psutil

        if self.proc.returncode is None:
            kids = self._descendants()
            if polite:
                try:
                    self.channel.send(("close",))
                except OSError:
                    pass
            elif not self._exited():
                self._signal_group(signal.SIGTERM)
            self._wait_exit(CLOSE_TIMEOUT_SECONDS if polite else KILL_AFTER_SECONDS)
            self._signal_group(signal.SIGKILL)  # what is left of the group, the child's children too
            for kid in kids:  # and those that started a session of their own
                try:
                    kid.kill()
                except psutil.NoSuchProcess:
                    pass
        _cores.release(self.proc.pid)
        self.proc.wait()
        self.channel.close()

    def _wait_exit(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while not self._exited() and time.monotonic() < until:
            time.sleep(0.01)

    def send(self, message: Any) -> None:
        """Send ``message``; a broken pipe (the child has gone) raises :class:`_Stopped`."""
        try:
            self.channel.send(message)
        except OSError:
            raise self.died() from None

    def died(self) -> _Stopped:
        """The child closed its pipe: reap it (and what is left of its group); why it ended."""
        self._wait_exit(KILL_AFTER_SECONDS)
        self.stop(polite=False)
        return _Stopped(_describe_exit(self.proc.returncode))

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def wait_message(self, until: float, memory_limit_mb: float | None, on_late: Callable[[], str]) -> Any:
        """The child's next message; raises :class:`_Stopped` (child killed) past ``until`` or the cap."""
        while True:
            if self.channel.readable(min(POLL_SECONDS, until - time.monotonic())):
                try:
                    return self.channel.receive()
                except EOFError:
                    raise self.died() from None
            if self._exited() and not self.channel.readable(0):
                # Dead, though a process it forked still holds the pipe open (so no end of file).
                raise self.died()
            if memory_limit_mb is not None:
                rss = self.rss_mb()
                if rss > memory_limit_mb:
                    self.stop(polite=False)
                    raise _Stopped(f"exceeded the memory cap of {memory_limit_mb:g} MB (RSS {rss:.0f} MB)")
            if time.monotonic() >= until:
                self.stop(polite=False)
                raise _Stopped(on_late())


class _Slot:
    """Holds the current child (replaced after a kill) so that a finalizer can stop it."""

    def __init__(self) -> None:
        self.child: _Child | None = None

    def stop(self, polite: bool = True) -> None:
        child, self.child = self.child, None
        if child is not None:
            child.stop(polite)


class TrialProcess:
    """A persistent child process that runs trials' fold loops, so that a trial can be stopped.

    The data goes to the child once (again after a child was killed). :meth:`run` has the
    signature and result of :func:`automl.search._folds.fit_folds` for one estimator; a trial that raises,
    scores non-finite, passes ``deadline`` plus a grace period, exceeds ``memory_limit_mb`` (the
    child's resident memory, its children included, with the data it holds) or kills its process
    raises :class:`TrialFailed`; one pruned through ``report`` raises ``optuna.TrialPruned``.
    """

    def __init__(
        self,
        X: pd.DataFrame,
        y: pd.Series,
        splits: Sequence[tuple[np.ndarray, np.ndarray]],
        scorer: Any,
        *,
        classes: np.ndarray | None,
        keep_oof: bool,
        metric_name: str,
        memory_limit_mb: float | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        if os.name != "posix":
            raise IsolationError(f"trials in a child process need a POSIX system (Linux, macOS), not {os.name!r}")
        if memory_limit_mb is not None and not memory_limit_mb > 0:
            raise ValueError(f"memory_limit_mb must be a positive number of megabytes or None, got {memory_limit_mb!r}")
        self._data = (X, y, list(splits), classes, keep_oof, metric_name)
        self._scorer = _dumps_by_value(scorer)
        self.memory_limit_mb = memory_limit_mb
        self._env = {**os.environ, **(env or {})}  # the thread settings ``import automl`` made included
        self._slot = _Slot()
        self._ready = False
        self._finalizer = weakref.finalize(self, self._slot.stop, True)  # on close() and at exit
        #: Children started so far (1 + restarts after kills).
        self.starts = 0
        #: Seconds from starting the last child to its having loaded the data, and of that, from
        #: sending the data to its having been loaded (the rest is the interpreter and its imports).
        self.start_seconds = 0.0
        self.data_seconds = 0.0
        #: Bytes of the data message and the child's resident memory once it held the data (MB).
        self.data_bytes = 0
        self.baseline_mb = 0.0
        self._spawn()  # the interpreter starts and imports while the caller goes on

    # -- life cycle ------------------------------------------------------------------------------
    def _spawn(self) -> _Child:
        try:
            child = self._slot.child = _Child(self._env)
        except OSError as e:  # out of processes or file descriptors
            raise IsolationError(f"the trial process could not start: {e}") from e
        self._ready = False
        self.starts += 1
        return child

    def _child(self) -> _Child:
        """The child, started and fed the data."""
        child = self._slot.child or self._spawn()
        if self._ready:
            return child
        try:
            msg = child.wait_message(
                time.monotonic() + START_TIMEOUT_SECONDS, self.memory_limit_mb,
                lambda: f"did not start within {START_TIMEOUT_SECONDS:g} s",
            )
            if msg[0] != "started":
                raise _Stopped(f"unexpected first message {msg[0]!r}")
            t = time.monotonic()
            X, y, splits, classes, keep_oof, metric_name = self._data
            init = ("init", X, y, splits, self._scorer, classes, keep_oof, metric_name)
            try:
                self.data_bytes = child.channel.send(init)
            except OSError:  # a broken pipe: the child has gone
                raise child.died() from None
            msg = child.wait_message(
                time.monotonic() + START_TIMEOUT_SECONDS, self.memory_limit_mb,
                lambda: f"did not load the data within {START_TIMEOUT_SECONDS:g} s",
            )
        except _Stopped as e:
            self._slot.stop(polite=False)  # already ended, unless it said something unexpected
            raise IsolationError(f"the trial process could not start: {e}") from None
        except BaseException:
            self._slot.stop(polite=False)
            raise
        if msg[0] != "ready":
            self._slot.stop(polite=False)
            raise IsolationError(f"the trial process could not load the data: {msg[1]}: {msg[2]}")
        self.data_seconds = time.monotonic() - t
        self.start_seconds = time.monotonic() - child.started
        self.baseline_mb = float(msg[1])
        self._ready = True
        return child

    def close(self) -> None:
        """Stop the child (it exits by itself, or is killed) and reap it."""
        self._finalizer()

    def __enter__(self) -> TrialProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The running child's process id (``None`` between a kill and the next trial)."""
        child = self._slot.child
        return None if child is None else child.proc.pid

    # -- trials ----------------------------------------------------------------------------------
    def run(
        self,
        estimator: Any,
        *,
        deadline: float,
        report: Callable[[int, float], None] | None,
        n_threads: int,
        keep_model: bool | Callable[[FoldsResult], bool] = False,
    ) -> FoldsResult:
        """Run the fold loop of ``estimator`` (unfitted) in the child; what ``fit_folds`` returns.

        ``deadline`` is on ``time.monotonic()``; the child gets the seconds left. ``report`` is
        called here with the first fold's intermediate scores and may raise ``optuna.TrialPruned``,
        which stops the fit in the child and is raised here. ``keep_model``: whether the fitted
        first-fold model comes back as ``first_model`` (it is pickled, so ask only when needed);
        a callable decides from the scores, at the cost of one more round trip.
        """
        if not self._finalizer.alive:
            raise IsolationError("this TrialProcess is closed")
        try:
            payload = _dumps_by_value(estimator)
        except Exception as e:
            raise TrialFailed(f"the estimator could not be pickled for its process: {type(e).__name__}: {e}") from e
        child = self._child()
        started = time.monotonic()
        left = deadline - started
        until = deadline + max(GRACE_SECONDS, GRACE_SHARE * max(left, 0.0))
        mode = "ask" if callable(keep_model) else "send" if keep_model else "drop"
        try:
            reply = self._converse(child, ("trial", payload, left, n_threads, mode), report, until, started)
            if reply[0] == "done" and mode == "ask":
                result = reply[1]
                want = bool(keep_model(result))  # type: ignore[operator]
                reply = self._converse(child, ("model", want), report, until, started)
                if reply[0] == "model":
                    reply = ("done", result, reply[1])
        except _Stopped as e:
            self._slot.child = None
            raise TrialFailed(str(e)) from None
        except BaseException:
            # Ctrl-C, or the report callback failed: the child's state is unknown.
            self._slot.stop(polite=False)
            raise
        kind = reply[0]
        if kind == "pruned":
            import optuna

            raise optuna.TrialPruned(reply[1])
        if kind == "error":
            raise TrialFailed(f"{reply[1]}: {reply[2]}", child_traceback=reply[3])
        result, model = reply[1], reply[2]
        if model is not None:
            result.first_model = pickle.loads(model)
        return result

    def _converse(
        self, child: _Child, request: tuple[Any, ...], report: Callable[[int, float], None] | None, until: float,
        started: float,
    ) -> Any:
        """Send ``request`` and answer the child's progress reports until its final reply."""
        child.send(request)

        def late() -> str:
            return f"did not stop by its deadline: killed after {time.monotonic() - started:.1f} s"

        while True:
            msg = child.wait_message(until, self.memory_limit_mb, late)
            if msg[0] != "report":
                return msg
            answer: tuple[Any, ...] = ("go",)
            if report is not None:
                try:
                    report(msg[1], msg[2])
                except Exception as e:
                    if not _is_pruned(e):
                        raise
                    answer = ("prune", str(e))
            child.send(answer)


def _is_pruned(e: BaseException) -> bool:
    optuna = sys.modules.get("optuna")  # nothing raised TrialPruned if optuna was never imported
    return optuna is not None and isinstance(e, optuna.TrialPruned)
