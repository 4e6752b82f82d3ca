"""The validation noise of a one-split search: a paired bootstrap over the validation rows.

With k folds, each trial's fold scores (``fold_scores`` in its user attributes) measure the noise.
With a holdout there is one score per trial, so at the end of the search the best kept ensemble
candidate of each framework (its out-of-fold predictions, :class:`~automl.search._best.Candidates`)
is rescored on bootstrap resamples of the validation rows, the same resamples for every framework
(paired), and each framework's difference to the best one is recorded in the study's user
attribute ``holdout_noise``: the mean difference and its standard error over the resamples.
Bounded in time (the refit's reserve pays for it): when fewer than :data:`MIN_RESAMPLES` fit in
the time allowed, the noise is left unmeasured.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automl.metrics import Metric
from automl.search._best import Candidates
from automl.search._resampling import Resampling

ATTR = "holdout_noise"
RESAMPLES = 200
MIN_RESAMPLES = 30
SEED = 0
#: The bootstrap may use this share of the budget, and at most MAX_SECONDS.
BUDGET_SHARE = 0.02
MAX_SECONDS = 3.0


def holdout_noise(
    candidates: Candidates, y_valid: pd.Series, metric: Metric, classes: np.ndarray | None, seconds: float
) -> dict[str, Any]:
    """Each framework's best candidate against the best one, on paired bootstrap resamples of the
    validation rows; ``{}`` without candidates, ``{"unmeasured": why}`` when too few resamples fit."""
    best: dict[str, tuple[int, Any]] = {}
    for number, entry in sorted(candidates.entries.items(), key=lambda kv: -kv[1].value):
        best.setdefault(entry.model.split("/", 1)[0], (number, entry))
    if not best:
        return {}
    from automl.search._ensemble import encoded_target, score_predictions  # scikit-learn: not at `import automl`

    y, scorer, classes = encoded_target(y_valid.reset_index(drop=True), metric, classes)
    y, n = pd.Series(y), len(y_valid)
    rng = np.random.default_rng(SEED)
    reps: dict[str, list[float]] = {f: [] for f in best}
    deadline = time.monotonic() + seconds
    for _ in range(RESAMPLES):
        if time.monotonic() > deadline:
            break
        ix = rng.integers(0, n, size=n)
        try:
            scores = {f: score_predictions(scorer, e.pred[ix], y.iloc[ix], classes) for f, (_, e) in best.items()}
        except ValueError:  # a resample without one of the classes: the scorer refuses it
            continue
        for f, s in scores.items():
            reps[f].append(s)
    done = len(next(iter(reps.values())))
    if done < MIN_RESAMPLES:
        return {"unmeasured": f"only {done} bootstrap resamples of the validation rows fit in {seconds:.1f}s"}
    top = max(best, key=lambda f: best[f][1].value)
    out = {}
    for f, (number, _) in best.items():
        diff = np.array(reps[top]) - np.array(reps[f])
        out[f] = {"trial": int(number), "difference": float(diff.mean()), "se": float(diff.std(ddof=1))}
    return {"method": f"paired bootstrap over {n:,} validation rows ({done} resamples)", "against": top,
            "frameworks": out}


def record_holdout_noise(
    study: optuna.Study, candidates: Candidates, y: pd.Series, resampling: Resampling, metric: Metric,
    classes: np.ndarray | None, time_budget: float,
) -> None:
    """With one validation split, :func:`holdout_noise` into the study's user attribute ``holdout_noise``."""
    if resampling.n_splits != 1 or resampling.bagged:
        return
    seconds = min(MAX_SECONDS, BUDGET_SHARE * time_budget)
    noise = holdout_noise(candidates, y.iloc[resampling.splits[0][1]], metric, classes, seconds)
    if noise:
        study.set_user_attr(ATTR, noise)
