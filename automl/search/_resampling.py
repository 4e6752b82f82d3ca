"""Validation splits: k-fold on small data, one holdout on larger data, stratified for classes;
on medium data (see :mod:`automl.search._bagging`) k-fold bags whose fold models are kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger("automl")

#: Up to this many rows, 5-fold cross-validation; up to CV3_MAX_ROWS, 3-fold; above, a holdout.
CV5_MAX_ROWS = 1_000
CV3_MAX_ROWS = 10_000
#: Up to CV5_MAX_ROWS rows the 5 folds are drawn this many times over: on a few hundred rows one
#: partition's noise is large next to the differences between good configurations, and the best of
#: hundreds of trials is the one that fitted that partition's noise best.
CV5_REPEATS = 3
HOLDOUT_FRACTION = 0.2
HOLDOUT_MAX_ROWS = 20_000


@dataclass(frozen=True)
class Resampling:
    kind: str  # "cv" or "holdout"
    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    stratified: bool
    repeats: int = 1
    #: k-fold bagging: every trial's fold models (of the first repeat; a network's of every repeat) are kept
    #: and averaged (no refit on all rows).
    bagged: bool = False

    @property
    def n_splits(self) -> int:
        return len(self.splits)

    @property
    def kept_folds(self) -> int:
        """How many fold models a bagged trial keeps (those of the first repeat); 0 without bagging."""
        return self.n_splits // self.repeats if self.bagged else 0

    def kept_models(self, network: bool) -> int:
        """The fold models a bagged trial of a network (``network``) or another learner keeps: a network
        keeps every repeat's, since averaging them is where its variance goes (``benchmarks.fold_bags
        --repeats 3``: +0.017 normalised for PyTorch's RealMLP, about 0 for the boosters); 0 without bagging."""
        return self.n_splits if network and self.bagged else self.kept_folds

    def describe(self) -> str:
        strat = "stratified " if self.stratified else ""
        k = self.n_splits // self.repeats
        if self.bagged and self.repeats > 1:
            return (f"{strat}{k}-fold cross-validation, repeated {self.repeats} times (the final model averages "
                    f"the first repeat's {k} fold models, a network's all {self.n_splits}, no refit)")
        if self.bagged:
            return (f"{strat}{k}-fold bagging (out-of-fold predictions on all rows; "
                    "the final model averages the fold models, no refit)")
        if self.kind == "cv":
            folds = f"{strat}{k}-fold cross-validation"
            return folds if self.repeats == 1 else f"{folds}, repeated {self.repeats} times"
        tr, va = self.splits[0]
        return f"{strat}holdout ({len(tr):,} train / {len(va):,} validation rows)"

    @property
    def train_fraction(self) -> float:
        tr, va = self.splits[0]
        return len(tr) / (len(tr) + len(va))


def fits_per_trial(n_rows: int, repeats: int = CV5_REPEATS) -> float:
    """How many full-data fits one trial costs under the validation plan for ``n_rows`` rows."""
    if n_rows <= CV5_MAX_ROWS:
        return 4.0 * repeats
    if n_rows <= CV3_MAX_ROWS:
        return 2.0
    return 1.0 - min(HOLDOUT_FRACTION, HOLDOUT_MAX_ROWS / n_rows)


def make_resampling(y: pd.Series, classification: bool, seed: int, repeats: int = CV5_REPEATS) -> Resampling:
    """The validation plan for target ``y``; ``repeats``: how often 5-fold CV is drawn on small data."""
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, train_test_split

    n = len(y)
    min_class = int(y.value_counts().min()) if classification else 0
    if n <= CV3_MAX_ROWS:
        k = 5 if n <= CV5_MAX_ROWS else 3
        stratified = classification and min_class >= 2
        if classification and min_class < k:
            if stratified:
                logger.warning("smallest class has %d rows: using %d folds instead of %d", min_class, min_class, k)
                k = min_class
            else:
                logger.warning("a class has a single row: folds cannot be stratified")
        repeats = repeats if n <= CV5_MAX_ROWS else 1
        cv_class = RepeatedStratifiedKFold if stratified else RepeatedKFold
        cv = cv_class(n_splits=k, n_repeats=repeats, random_state=seed)
        splits = tuple((np.asarray(tr), np.asarray(va)) for tr, va in cv.split(np.zeros(n), y if stratified else None))
        return Resampling("cv", splits, stratified, repeats)
    size = min(HOLDOUT_FRACTION, HOLDOUT_MAX_ROWS / n)
    stratified = classification and min_class >= 2
    idx = np.arange(n)
    tr, va = train_test_split(idx, test_size=size, random_state=seed, stratify=y if stratified else None)
    return Resampling("holdout", ((np.sort(tr), np.sort(va)),), stratified)


def bagged_resampling(y: pd.Series, classification: bool, seed: int, k: int) -> Resampling:
    """``k``-fold splits (stratified for classes) whose fold models are kept. The bagging plan takes
    ``k`` no larger than the rarest class's rows, so that every fold trains on and validates every class."""
    from sklearn.model_selection import KFold, StratifiedKFold

    cv = (StratifiedKFold if classification else KFold)(k, shuffle=True, random_state=seed)
    n = len(y)
    splits = tuple((np.asarray(tr), np.asarray(va)) for tr, va in cv.split(np.zeros(n), y if classification else None))
    return Resampling("cv", splits, classification, 1, bagged=True)
