"""k-fold bags: the fold models kept and averaged, no refit; on medium data (10,000 to 200,000
rows) in place of one holdout, when the time plan allows.

Small data (the default; ``bagging="medium"`` refits instead): up to 10,000 rows the search
cross-validates anyway, so keeping its fold models costs no training. Each trial keeps the fold
models of its first k-fold split (with repeated cross-validation the later repeats only score; a
network keeps every repeat's, where averaging 15 fold models instead of 5 gained +0.017 normalised
for PyTorch's RealMLP and about nothing for the boosters, ``benchmarks.fold_bags --repeats 3``), the
final model averages them, and the refit's reserve goes to the search. The same configuration's fold
models averaged scored higher on held-out data than its refit on all rows on 30 of 40 small datasets
(``benchmarks.fold_bags``: mean +0.066 normalised, 90% interval [+0.018, +0.145]).

Above 10,000 rows the search validates on one 20% holdout: ensemble selection then sees one split,
and the refit on all rows throws the validation models away. Where the budget allows enough
trials, every trial is instead a k-fold bag (AutoGluon's "bagging", Caruana's ensemble selection
over out-of-fold predictions): its k fold models are kept and averaged at predict time, so the
final model needs no refit, and ensemble selection sees out-of-fold predictions on every
training row. The decision, taken once before the search and recorded in the run's spec (a
resumed study or a worker keeps it), is by the time plan: the largest k of ``BAG_FOLDS`` for which
``BAG_MIN_TRIALS`` trials of the leading candidate fit the budget; otherwise the holdout stays and
the log and ``result.messages`` say why. Trials in a child process (``isolation="process"``) send
back one model, so they keep the holdout.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pandas as pd

from automl.search._resampling import CV3_MAX_ROWS, Resampling, bagged_resampling
from automl.search._settings import SearchSettings
from automl.search._spec import RunSpec
from recommender import Recommendation

logger = logging.getLogger("automl")

#: Bagging is considered from just above CV3_MAX_ROWS up to this many rows; above, one holdout.
BAG_MAX_ROWS = 200_000
#: The fold counts tried, most first; a k-fold bag costs k - 1 fits on all rows.
BAG_FOLDS = (5, 3)
#: Bags are used only when at least this many trials of the leading candidate fit the budget.
BAG_MIN_TRIALS = 20


def plan_bagging(
    resampling: Resampling, y: pd.Series, recommendation: Recommendation, settings: SearchSettings,
    spec: RunSpec | None, messages: list[str],
) -> tuple[Resampling, RunSpec | None]:
    """k-fold bags in place of the holdout when the time plan allows them (see above), and the spec
    with the decision recorded; anything else is returned unchanged."""
    if resampling.kind == "cv" and not resampling.bagged:
        return (_bag_the_folds(resampling, settings) if settings.bagging is True else resampling), spec
    if spec is not None and spec.bagging_decided:
        if spec.bag_folds is None:
            return resampling, spec
        return bagged_resampling(y, resampling.stratified, settings.seed, spec.bag_folds), spec
    n = len(y)
    if resampling.kind != "holdout" or not (CV3_MAX_ROWS < n <= BAG_MAX_ROWS) or not recommendation.candidates:
        return resampling, spec
    if settings.isolation == "process":
        _say(messages, "holdout validation: trials in a child process send back one model, so k-fold bags "
                       "(which keep every fold's model) are not used with isolation='process'")
        return resampling, None if spec is None else spec.with_bagging(None)
    folds = BAG_FOLDS
    if resampling.stratified:  # every fold must train on and validate every class
        rarest = int(y.value_counts().min())
        folds = tuple(k for k in BAG_FOLDS if k <= rarest)
        if not folds:
            _say(messages, f"holdout validation: a class has only {rarest} rows, fewer than the {BAG_FOLDS[-1]} "
                           "folds of the smallest bag (each fold must train on and validate every class)")
            return resampling, None if spec is None else spec.with_bagging(None)
    lead = recommendation.best
    k, trials = _folds_that_fit(lead.seconds_per_fit, settings.time_budget, folds)
    if k is None:
        _say(messages, f"holdout validation: a {BAG_FOLDS[-1]}-fold bag of {lead.display_name} needs "
                       f"~{lead.seconds_per_fit * (BAG_FOLDS[-1] - 1):.1f}s per trial, so only ~{trials:.0f} "
                       f"trials would fit the budget ({BAG_MIN_TRIALS} wanted for bagging)")
        return resampling, None if spec is None else spec.with_bagging(None)
    bagged = bagged_resampling(y, resampling.stratified, settings.seed, k)
    _say(messages, f"{k}-fold bagging: ~{trials:.0f} trials of {lead.display_name} fit the budget at "
                   f"~{lead.seconds_per_fit * (k - 1):.1f}s each; each trial keeps its {k} fold models, the "
                   f"final model averages them (no refit) and ensemble selection sees out-of-fold "
                   f"predictions on all {n:,} rows")
    return bagged, None if spec is None else spec.with_bagging(k)


def _bag_the_folds(resampling: Resampling, settings: SearchSettings) -> Resampling:
    """Small data: the cross-validation's own folds, their models kept (see above)."""
    if settings.isolation == "process":
        logger.info("cross-validation with a refit on all rows: trials in a child process send back one model")
        return resampling
    bagged = replace(resampling, bagged=True)
    logger.info("%s", bagged.describe())
    return bagged


def _folds_that_fit(
    seconds_per_fit: float, budget: float, folds: tuple[int, ...] = BAG_FOLDS
) -> tuple[int | None, float]:
    """The largest k of ``folds`` whose bags let ``BAG_MIN_TRIALS`` trials fit, and how many trials
    fit at it (at the smallest k when none does)."""
    trials = 0.0
    for k in folds:
        trials = budget / max(seconds_per_fit * (k - 1), 1e-3)
        if trials >= BAG_MIN_TRIALS:
            return k, trials
    return None, trials


def _say(messages: list[str], msg: str) -> None:
    logger.info(msg)
    messages.append(msg)
