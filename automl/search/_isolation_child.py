"""The child process of :mod:`automl.search._isolation`: loads the data once, then runs trials' fold loops.

    python -m automl.search._isolation_child REQUEST_FD REPLY_FD

Started by :class:`automl.search._isolation.TrialProcess` (through :func:`main`, after it has set the
parent's import path), which talks to it over the two pipe file descriptors it passes; stdout and
stderr stay the user's, for whatever the libraries print.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any

PARENT_CHECK_SECONDS = 1.0


def _prefer_oom_kill() -> None:
    """Make this process the kernel's first choice when memory runs out (rather than the search)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass  # not Linux, or not allowed: the memory cap still applies


def _exit_with_parent() -> None:
    """Exit when the parent has gone, even in the middle of a fit that would never end."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="automl-parent-watch", daemon=True).start()


def _error(e: BaseException, context: str = "") -> tuple[str, str, str, str]:
    return ("error", type(e).__name__, f"{context}{e}", traceback.format_exc())


def _is_pruned(e: BaseException) -> bool:
    optuna = sys.modules.get("optuna")  # nothing raised TrialPruned if optuna was never imported
    return optuna is not None and isinstance(e, optuna.TrialPruned)


class _Data:
    def __init__(self, message: tuple[Any, ...]) -> None:
        import pickle

        _, self.X, self.y, self.splits, scorer, self.classes, self.keep_oof, self.metric_name = message
        self.scorer = pickle.loads(scorer)


def _trial(channel: Any, data: _Data, payload: bytes, left: float, n_threads: int, mode: str) -> None:
    import pickle

    from automl.search._folds import fit_folds
    from automl.search._isolation import _dumps_by_value

    def report(step: int, value: float) -> None:
        channel.send(("report", int(step), float(value)))
        answer = channel.receive()
        if answer[0] == "prune":
            import optuna

            raise optuna.TrialPruned(answer[1])

    try:
        estimator = pickle.loads(payload)
        result = fit_folds(
            estimator, data.X, data.y, data.splits, data.scorer, deadline=time.monotonic() + left, report=report,
            n_threads=n_threads, classes=data.classes, keep_oof=data.keep_oof, metric_name=data.metric_name,
        )
    except (OSError, EOFError):
        raise  # the pipe to the parent broke: nobody to tell
    except BaseException as e:  # SystemExit from a library too: the trial failed, not this process
        channel.send(("pruned", str(e)) if _is_pruned(e) else _error(e))
        return
    model, result.first_model = result.first_model, None
    try:
        if mode == "ask":
            channel.send(("done", result, None))
            want = channel.receive()[1]
            channel.send(("model", _dumps_by_value(model) if want else None))
        else:
            channel.send(("done", result, _dumps_by_value(model) if mode == "send" else None))
    except (OSError, EOFError):
        raise
    except Exception as e:
        channel.send(_error(e, "the fitted model could not be pickled: "))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    request_fd, reply_fd = int(args[0]), int(args[1])
    for fd in (request_fd, reply_fd):
        os.set_inheritable(fd, False)  # processes a library starts must not keep the parent's pipes open
    _prefer_oom_kill()
    _exit_with_parent()
    # Load what every trial needs while the parent prepares the data.
    import psutil
    import sklearn.base  # noqa: F401

    import automl.search._folds  # noqa: F401
    from automl.search._isolation import Channel

    channel = Channel(request_fd, reply_fd)
    try:
        channel.send(("started",))
        try:
            data = _Data(channel.receive())
        except (OSError, EOFError):
            raise
        except BaseException as e:
            channel.send(_error(e))
            return 1
        channel.send(("ready", psutil.Process().memory_info().rss / 2**20))
        while True:
            message = channel.receive()
            if message[0] == "close":
                return 0
            _trial(channel, data, *message[1:])
    except (OSError, EOFError):
        return 0  # the parent closed the pipes or went away


if __name__ == "__main__":
    raise SystemExit(main())
