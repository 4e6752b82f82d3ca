"""One trial's work: fit a configuration on each resampling split and score it.

Kept apart from the study so that the same code runs in the search's process and in the child
process of :mod:`automl.search._isolation` (where a trial can be stopped at its deadline or memory cap).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from search_spaces import fit_budget
from search_spaces._budget import Reporter


@dataclass
class FoldsResult:
    """What the fold loop measured: the mean score and what the search keeps of the trial."""

    scores: list[float]
    truncated: bool
    elapsed: float
    first_seconds: float
    first_model: Any = None
    #: Out-of-fold predictions in split order (``None`` when not kept or not aligned).
    oof: list[np.ndarray | None] = field(default_factory=list)
    #: Every fold's fitted model, in split order (kept for k-fold bagging only).
    models: list[Any] = field(default_factory=list)
    #: A fold's fit ended a schedule shortened to its deadline (``shortened_``, the networks): time-
    #: limited like a cut-short fit, but complete, so its out-of-fold predictions can be ensembled.
    shortened: bool = False
    #: The kept models' bytes, estimated from the first fold's (:func:`model_bytes`); 0 when none are kept.
    bag_bytes: int = 0
    #: The bytes a bag would have held when it was too large to keep (``bag_bytes_limit``); else 0.
    bag_refused: int = 0
    #: The first fold's fit was stopped by its deadline mid-schedule (``truncated_``): it needed more
    #: than ``first_seconds``, so a refit on more rows in about that time would be stopped too.
    cut: bool = False

    @property
    def value(self) -> float:
        return float(np.mean(self.scores))


#: A trial that its deadline cuts short spreads its time over at most this many folds: a network
#: trained on 15 slices of a 10 s trial (5-fold CV drawn 3 times) learnt nothing on any of them.
TIME_LIMITED_FOLDS = 3
#: A fold is not started with less time left than this share of the folds' mean so far: a starved
#: last fold (1028_SWD, 10 s: RMSE 1.67 against about 0.93 on the four before it) drags the mean.
STARVED_FOLD = 0.5


def _fold_deadline(started: float, deadline: float, remaining: int, *, time_limited: bool) -> float:
    """When the next fold's fit must stop: an equal share of the time left among the remaining
    folds, so that an iterative fit cannot spend the whole trial on its first fold and leave the
    others unfitted; but while the trial is (or, on its first fold, may be) cut short by its
    deadline, at least ``1 / TIME_LIMITED_FOLDS`` of the trial, so that the folds it fits are
    trained, not starved (the trial then ends with fewer folds, marked truncated). A fit that
    shortened its schedule to its deadline (``shortened_``) counts as time-limited too."""
    now = time.monotonic()
    share = max(deadline - now, 0.0) / remaining
    if time_limited:
        share = max(share, (deadline - started) / TIME_LIMITED_FOLDS)
    return min(deadline, now + share)


@contextmanager
def quiet_folds() -> Iterator[None]:
    """Silence warnings that are expected inside validation folds (handled by design)."""
    with warnings.catch_warnings():
        # Categories first seen in a validation fold are encoded as unknown on purpose.
        warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
        yield


def predictions(model: Any, X: pd.DataFrame, classes: np.ndarray | None) -> np.ndarray | None:
    """Predictions for ensembling: values (regression) or normalised class probabilities."""
    if classes is None:
        return np.asarray(model.predict(X), dtype=np.float64)
    if list(model.classes_) != list(classes):
        return None  # a fold missed a class: its probabilities do not line up
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    # float32 probabilities (XGBoost, the networks) sum to 1 only to float32 precision; as
    # float64 they trip scikit-learn's "y_prob values do not sum to one" check in log loss.
    return proba / proba.sum(axis=1, keepdims=True)


def fit_folds(
    estimator: Any,
    X: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    scorer: Any,
    *,
    deadline: float,
    report: Reporter | None,
    n_threads: int,
    classes: np.ndarray | None,
    keep_oof: bool,
    metric_name: str,
    keep_models: int = 0,
    bag_bytes_limit: float = math.inf,
) -> FoldsResult:
    """Fit a clone of ``estimator`` per split under ``deadline`` (monotonic) and score it; each
    fold's fit may use a share of the time left (see :func:`_fold_deadline`; iterative fits stop
    there, marked truncated).

    The first split's fit reports intermediate scores to ``report`` (which may raise
    ``optuna.TrialPruned``); folds after the deadline are skipped and the result is marked
    truncated. A non-finite score raises ``ValueError``: the trial fails with that reason. The first
    ``keep_models`` folds' models are kept (a k-fold bag), else only the first fold's; but none
    beyond the first when ``keep_models`` copies of the first fold's model would hold more than
    ``bag_bytes_limit`` bytes (``bag_refused`` says how many).
    """
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from automl.search._ensemble import score_predictions  # scikit-learn: not at `import automl`

    scores: list[float] = []
    oof: list[np.ndarray | None] = []
    models: list[Any] = []
    truncated = shortened = cut = False
    first_model = None
    first_seconds = 0.0
    per_model = bag_refused = 0
    started = time.monotonic()
    for k, (tr, va) in enumerate(splits):
        if k and deadline - time.monotonic() < STARVED_FOLD * (time.monotonic() - started) / k:
            truncated = True  # too little time left for one more fold to be trained like the others
            break
        model = clone(estimator)
        limited = k == 0 or truncated or shortened
        fold_deadline = _fold_deadline(started, deadline, len(splits) - k, time_limited=limited)
        budget = fit_budget(fold_deadline, report if k == 0 else None, predict_rows=len(va))
        with budget, threadpool_limits(limits=n_threads), quiet_folds():
            model.fit(X.iloc[tr], y.iloc[tr])
            pred = predictions(model, X.iloc[va], classes) if keep_oof else None
            if pred is not None:  # scored from the kept predictions: the validation rows are predicted once
                score = score_predictions(scorer, pred, y.iloc[va], classes)
            else:
                score = float(scorer(model, X.iloc[va], y.iloc[va]))
            if keep_oof:
                oof.append(pred)
        if not math.isfinite(score):
            raise ValueError(f"the {metric_name} score is {score} (non-finite predictions)")
        scores.append(score)
        last = model[-1] if hasattr(model, "steps") else model
        truncated = truncated or bool(getattr(last, "truncated_", False))
        shortened = shortened or bool(getattr(last, "shortened_", False))
        if k == 0:
            first_model, first_seconds = model, time.monotonic() - started
            cut = bool(getattr(last, "truncated_", False))
            if keep_models:  # after the clock: the refit estimate scales the fit's seconds, not this
                per_model = model_bytes(model)
                if per_model * keep_models > bag_bytes_limit:  # too large: validated, not kept as a bag
                    bag_refused, keep_models = per_model * keep_models, 0
        if k < keep_models:
            models.append(model)
        if time.monotonic() >= deadline and k + 1 < len(splits):
            truncated = True
            break
    elapsed = time.monotonic() - started
    return FoldsResult(
        scores, truncated, elapsed, first_seconds, first_model, oof, models, shortened,
        per_model * len(models), bag_refused, cut,
    )


def model_bytes(model: Any) -> int:
    """A fitted model's size in bytes as pickled (arrays counted, not copied: protocol 5's out-of-band
    buffers); 0 when it cannot be pickled."""
    import pickle

    buffers: list[pickle.PickleBuffer] = []
    try:
        head = pickle.dumps(model, protocol=5, buffer_callback=buffers.append)
    except Exception:  # an object that refuses pickling is not what this estimate guards against
        return 0
    return len(head) + sum(b.raw().nbytes for b in buffers)
