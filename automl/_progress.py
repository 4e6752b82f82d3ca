"""Live progress of a search: a bar on a terminal or in a notebook, plain log lines otherwise.

``verbosity`` 0 shows nothing but warnings; 1 (default) a progress bar with trials done, best
score so far and its framework, the framework now training and time left (or, when output is not
a terminal, a log line at each new best and at least every 10 s); 2 adds a log line per trial.
Everything else goes through the standard ``logging`` module under the ``automl`` logger.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger("automl")

#: Plain (non-terminal) progress writes a line at least this often, besides each new best.
PLAIN_EVERY_SECONDS = 10.0


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def _interactive() -> bool:
    if _in_notebook():
        return True
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def log_output(verbosity: int) -> Iterator[None]:
    """Show the ``automl`` logger's INFO lines on stderr during a fit when nothing else is set up.

    An application that configured logging (any handler on the ``automl`` logger or the root)
    keeps full control; verbosity 0 adds nothing.
    """
    if verbosity <= 0 or logger.hasHandlers():
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[automl %(asctime)s] %(message)s", datefmt="%H:%M:%S"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


class Progress:
    """What the search reports; rendered as a tqdm bar or as log lines."""

    def __init__(self, time_budget: float, started: float, verbosity: int, metric_name: str) -> None:
        self.time_budget = time_budget
        self.started = started
        self.verbosity = verbosity
        self.metric_name = metric_name
        self.trials = 0
        self.best: tuple[float, str] | None = None
        self.current = ""
        self._bar: Any = None
        self._last_line = started
        if verbosity >= 1 and _interactive():
            self._bar = self._make_bar()

    def _make_bar(self) -> Any:
        try:
            from tqdm.std import tqdm
        except ImportError:
            return None
        if _in_notebook():
            try:
                from tqdm.notebook import IProgress
                from tqdm.notebook import tqdm as notebook_tqdm
            except ImportError:
                pass
            else:
                # Without ipywidgets tqdm.notebook imports, but creating its bar raises ImportError;
                # the text bar renders in notebooks too.
                if IProgress is not None:
                    tqdm = notebook_tqdm
        return tqdm(
            total=round(self.time_budget), unit="s", desc="automl", leave=True, file=sys.stderr,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f}s{postfix}",
        )

    def _left(self) -> float:
        return max(0.0, self.time_budget - (time.monotonic() - self.started))

    def _postfix(self) -> str:
        best = f"best {self.metric_name} {self.best[0]:.5g} ({self.best[1]})" if self.best else "no score yet"
        now = f", now {self.current}" if self.current else ""
        return f"{self.trials} trials, {best}{now}, {self._left():.0f}s left"

    def _refresh(self) -> None:
        if self._bar is None:
            return
        elapsed = min(time.monotonic() - self.started, self.time_budget)
        self._bar.n = round(elapsed)
        self._bar.set_postfix_str(self._postfix(), refresh=False)
        self._bar.refresh()

    def trial_started(self, framework: str) -> None:
        self.current = framework
        self._refresh()

    def trial_finished(self, best_value: float | None, best_framework: str | None) -> None:
        self.trials += 1
        improved = best_value is not None and (self.best is None or best_value != self.best[0])
        if best_value is not None and best_framework is not None:
            self.best = (best_value, best_framework)
        self.current = ""
        if self._bar is not None:
            self._refresh()
            return
        now = time.monotonic()
        if self.verbosity >= 1 and (improved or now - self._last_line >= PLAIN_EVERY_SECONDS):
            self._last_line = now
            logger.info("progress: %s", self._postfix())

    def close(self) -> None:
        if self._bar is not None:
            self._refresh()
            self._bar.close()
            self._bar = None
