"""What the search has found so far: the best trial and the ensemble candidates.

Both are records the trial runner writes and the time plan and the refit read; neither knows
how trials run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
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
#: The kept fold models of k-fold bagging hold at most this share of the memory available when the
#: search starts (or of ``memory_limit_mb``), all bags together; one bag at most half of that. A
#: 300 s search on diamonds (43,000 rows) whose ensemble held a bag of fully grown extra trees once
#: peaked at 16 GB on a 24 GB machine.
BAG_MEMORY_SHARE = 0.4


def bag_memory_limit(memory_limit_mb: float | None) -> float:
    """Bytes the kept bags may hold together (:data:`BAG_MEMORY_SHARE` of the memory at hand)."""
    if memory_limit_mb:
        return BAG_MEMORY_SHARE * memory_limit_mb * 2**20
    import psutil

    return BAG_MEMORY_SHARE * psutil.virtual_memory().available


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
    #: The best trial's first fold was stopped by its deadline (:attr:`FoldsResult.cut`).
    cut: bool = False

    def known(self, value: float, number: int, fold_seconds: float, cut: bool = False) -> None:
        """A trial that ran elsewhere (an earlier session, another worker) and whose model is not here."""
        self.value, self.number, self.fold_seconds, self.cut = value, number, fold_seconds, cut

    def offer(self, value: float, number: int, fold_seconds: float, model: Any, cut: bool = False) -> None:
        """A trial of this process: kept when it beats the best so far."""
        if value > self.value:
            self.known(value, number, fold_seconds, cut)
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
    #: The bag's size in bytes, as pickled (:func:`automl.search._folds.model_bytes`).
    bag_bytes: int = 0


@dataclass
class Candidates:
    """The ensemble candidates by trial number: the best trials, a few of each model family, and
    always the best trial of every family (up to ``ENSEMBLE_CANDIDATES`` families)."""

    entries: dict[int, OutOfFold] = field(default_factory=dict)
    #: Counts the trials remembered: the time plan recomputes the likely ensemble when it changed.
    version: int = 0
    #: Bytes the kept bags may hold together; past it the weakest trials lose their bags (not their
    #: predictions: they stay candidates wherever a bag is not needed).
    bag_limit: float = math.inf

    @property
    def one_bag_limit(self) -> float:
        """Bytes one trial's bag may hold: a trial whose bag would hold more keeps none."""
        return self.bag_limit / 2

    @property
    def bag_bytes(self) -> int:
        return sum(e.bag_bytes for e in self.entries.values() if e.bag is not None)

    def __len__(self) -> int:
        return len(self.entries)

    def remember(
        self, number: int, value: float, pred: np.ndarray, fold_seconds: float, model: str, bag: Any = None,
        bag_bytes: int = 0,
    ) -> None:
        """Keep a trial's out-of-fold predictions (and its bag, if any) if it is among the best of its
        model and of all."""
        oof = self.entries
        oof[number] = OutOfFold(value, pred, fold_seconds, model, bag, bag_bytes)
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
        self._bound_bags()

    def _bound_bags(self) -> None:
        """Drop the bags of the weakest trials (never the best's) while the bags hold more than ``bag_limit``."""
        bagged = sorted((n for n, e in self.entries.items() if e.bag is not None), key=lambda n: self.entries[n].value)
        for n in bagged[:-1]:
            if self.bag_bytes <= self.bag_limit:
                return
            self.entries[n] = replace(self.entries[n], bag=None, bag_bytes=0)

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
