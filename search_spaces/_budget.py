"""The deadline and progress reporter a running fit consults, shared through a context variable.

Estimators keep the scikit-learn contract (``__init__`` stores arguments only), so the per-trial
deadline and the Optuna reporter cannot be constructor arguments without leaking into
``get_params``. The search sets them around ``fit`` with :func:`fit_budget`; iterative estimators
read them with :func:`current_budget`, stop growing at the deadline and report intermediate
scores (higher is better) so a pruner can stop a bad trial.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

Reporter = Callable[[int, float], None]


@dataclass(frozen=True)
class FitBudget:
    """A deadline on ``time.monotonic()`` (``None``: no deadline) and an optional reporter."""

    deadline: float | None = None
    report: Reporter | None = None
    #: Rows the caller will predict after the fit, before the same deadline (a validation fold):
    #: an estimator that knows its seconds per predicted row stops early enough to leave time for them.
    predict_rows: int = 0

    def expired(self, seconds_per_row: float = 0.0) -> bool:
        """Past the deadline, or (given the fit's own seconds per predicted row) too close to it to
        still predict ``predict_rows`` rows in time."""
        if self.deadline is None:
            return False
        return time.monotonic() + seconds_per_row * self.predict_rows >= self.deadline

    def seconds_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def emit(self, step: int, value: float) -> None:
        """Report an intermediate score; the reporter may raise ``optuna.TrialPruned``."""
        if self.report is not None:
            self.report(step, value)


_UNLIMITED = FitBudget()
_CURRENT: ContextVar[FitBudget | None] = ContextVar("search_spaces_fit_budget", default=None)


def current_budget() -> FitBudget:
    """The budget set by the innermost :func:`fit_budget`; no deadline outside one."""
    return _CURRENT.get() or _UNLIMITED


@contextmanager
def fit_budget(
    deadline: float | None = None, report: Reporter | None = None, predict_rows: int = 0
) -> Iterator[FitBudget]:
    """Run the enclosed fits under ``deadline`` (monotonic seconds), reporting to ``report``;
    ``predict_rows`` rows will be predicted after the fit before the same deadline."""
    budget = FitBudget(deadline=deadline, report=report, predict_rows=predict_rows)
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)
