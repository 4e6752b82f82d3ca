"""What the search has found so far: the best trial and the ensemble candidates.

Both are records the trial runner writes and the time plan and the refit read; neither knows
how trials run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Out-of-fold predictions are kept for this many of the best trials, up to this many values each,
#: and for at most ENSEMBLE_PER_MODEL of one framework's model family: a long search fills the top
#: ranks with near-copies of one lucky configuration (hitters, 300 s: 15 LightGBM variants, holdout
#: RMSE 403 against ~355 for the runs whose ensembles mixed families), and ensemble selection then
#: has nothing different to average.
ENSEMBLE_CANDIDATES = 15
ENSEMBLE_PER_MODEL = 4
MAX_OOF_VALUES = 5_000_000


@dataclass
class BestSoFar:
    """The best trial known (this process's or, in a shared study, another's) and, when it ran
    here, its first fold's model."""

    value: float = -math.inf
    #: The best trial's number (None before any trial completed).
    number: int | None = None
    #: One fold's fit seconds of the best trial: the refit estimate scales it to all rows.
    fold_seconds: float = 0.0
    #: The first-fold model of trial ``model_number``, this process's best.
    model: Any = None
    model_number: int | None = None

    def known(self, value: float, number: int, fold_seconds: float) -> None:
        """A trial that ran elsewhere (an earlier session, another worker) and whose model is not here."""
        self.value, self.number, self.fold_seconds = value, number, fold_seconds

    def offer(self, value: float, number: int, fold_seconds: float, model: Any) -> None:
        """A trial of this process: kept when it beats the best so far."""
        if value > self.value:
            self.known(value, number, fold_seconds)
            self.model, self.model_number = model, number


@dataclass(frozen=True)
class OutOfFold:
    """A finished trial kept as an ensemble candidate: its value, its predictions on the
    validation rows, one fold's fit seconds (for the refit estimate) and "framework/family"."""

    value: float
    pred: np.ndarray
    fold_seconds: float
    model: str
    #: With k-fold bagging: the trial's bag (its fold models averaged), which needs no refit.
    bag: Any = None


@dataclass
class Candidates:
    """The ensemble candidates by trial number: the best trials, a few of each model family, and
    always the best trial of every family (up to ``ENSEMBLE_CANDIDATES`` families)."""

    entries: dict[int, OutOfFold] = field(default_factory=dict)
    #: Counts the trials remembered: the time plan recomputes the likely ensemble when it changed.
    version: int = 0

    def __len__(self) -> int:
        return len(self.entries)

    def remember(
        self, number: int, value: float, pred: np.ndarray, fold_seconds: float, model: str, bag: Any = None
    ) -> None:
        """Keep a trial's out-of-fold predictions (and its bag, if any) if it is among the best of its
        model and of all."""
        oof = self.entries
        oof[number] = OutOfFold(value, pred, fold_seconds, model, bag)
        self.version += 1
        same = [n for n, e in oof.items() if e.model == model]
        if len(same) > ENSEMBLE_PER_MODEL:
            del oof[min(same, key=lambda n: oof[n].value)]
        if len(oof) > ENSEMBLE_CANDIDATES:
            # The best trial of each family stays: a network or a forest that never wins alone
            # is what ensemble selection has to average with the boosted trees (diversity).
            leaders = {max(same_model, key=lambda n: oof[n].value) for same_model in self._by_model().values()}
            evictable = [n for n in oof if n not in leaders] or list(oof)
            del oof[min(evictable, key=lambda n: oof[n].value)]

    def _by_model(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for n, e in self.entries.items():
            groups.setdefault(e.model, []).append(n)
        return groups

    def best_per_model(self, count: int) -> list[OutOfFold]:
        """The best trial of each of the ``count`` best model families."""
        best: dict[str, OutOfFold] = {}
        for entry in sorted(self.entries.values(), key=lambda e: -e.value):
            best.setdefault(entry.model, entry)
        return list(best.values())[:count]
