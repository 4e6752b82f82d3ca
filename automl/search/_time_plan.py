"""The time plan: when a trial may start and how long it may run, given what the refit will need.

The budget ends with the refit on all rows (and the ensemble's, while that is cheap); trials get
what is left before the time kept back for it. On large data, trials may train on a sample of a
holdout's training rows so that enough of them fit the budget.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from automl.search._best import BestSoFar, Candidates
from automl.search._resampling import CV3_MAX_ROWS, Resampling, fits_per_trial
from automl.search._settings import SearchSettings
from automl.search._spec import RunSpec
from recommender import Recommendation
from search_spaces import FrameworkAdapter

logger = logging.getLogger("automl")

#: Seconds kept for building the result after the refit.
FINISH_SECONDS = 0.5
#: A new trial starts only with at least this many seconds left for it.
MIN_TRIAL_SECONDS = 0.5
#: The refit on all rows is predicted from the best trial's fit time, with this safety factor.
REFIT_SAFETY = 1.25
REFIT_FIXED_SECONDS = 0.25
#: Time is kept back for refitting a likely ensemble only while that costs at most this share of
#: the budget; beyond it (large data) trials are worth more, and an ensemble is refitted only if the
#: time left at the end allows (at 1M rows the ensemble share once stopped the search at 1/3 budget).
ENSEMBLE_RESERVE_SHARE = 0.25
#: The likely ensemble's members are found by greedy selection over the candidates (0.1-0.2 s on
#: small data) when candidates changed, so rarely that it takes at most this share of the time
#: (0.15 s: once every 7.5 s). Before, the reserve counted the best trial of the three best
#: families, and at 300 s the members chosen at the end often needed more: 4.7 s with 0.5 s left on
#: diabetes, 5.7 s with none on credit_g, 1.6 s with 0.4 s on iris.
SELECTION_TIME_SHARE = 0.02
#: Without a ``trial_timeout``, one trial may run at most this share of the time budget (and at least
#: ``MIN_TRIAL_CAP_SECONDS``): on mfeat_factors (1,500 rows, 216 features, 10 classes) at 300 s, one
#: CatBoost trial (early stopping, up to 2,000 rounds of a 10-class model) took 194 s, the search
#: ended after 6 trials, and the refit of the ensemble it joined no longer fitted in the time left.
TRIAL_BUDGET_SHARE = 0.25
MIN_TRIAL_CAP_SECONDS = 10.0
#: Row subsampling on large data: when fewer than SUBSAMPLE_MIN_TRIALS trials of the leading
#: candidate fit in the budget on all training rows, trials train on a sample of them (never under
#: SUBSAMPLE_MIN_ROWS) sized for that many trials; the final model is refitted on all rows.
SUBSAMPLE_MIN_TRIALS = 40
SUBSAMPLE_MIN_ROWS = 10_000


class TimePlan:
    """Deadlines of the search: the trials', one trial's cap, and the time left for the refit."""

    def __init__(
        self, settings: SearchSettings, refit_factor: float, best: BestSoFar, candidates: Candidates,
        *, bagged: bool = False,
    ) -> None:
        self.settings = settings
        #: Greedy ensemble selection over the candidates now (trial number -> weight); set by the search.
        self.select: Callable[[], dict[int, float]] | None = None
        #: The candidates' version, when selection ended and how long it took, the members' refit seconds.
        self._selected = (-1, -math.inf, 0.0, 0.0)
        #: Trials are k-fold bags whose models are kept: nothing is refitted at the end.
        self.bagged = bagged
        #: A fit on all rows costs this many times a trial's fit on its training rows.
        self.refit_factor = refit_factor
        self.best = best
        self.candidates = candidates

    def trial_refit_seconds(self, trial: Any) -> float:
        """Predicted seconds to refit a finished trial (an Optuna trial) on all rows."""
        return float(trial.user_attrs.get("fold_seconds", 0.0)) * self.refit_factor

    def refit_estimate(self) -> float:
        """Predicted seconds to refit the best configuration on all rows (0 before any trial)."""
        if self.best.number is None:
            return 0.0
        return self.best.fold_seconds * self.refit_factor

    def ensemble_estimate(self) -> float:
        """Predicted seconds to refit a likely ensemble: its members as greedy selection over the
        candidates picks them now (recomputed within ``SELECTION_TIME_SHARE`` of the time),
        and at least the best trial of each of the three best model families. Greedy selection mixes
        families (near-identical members add nothing), so the three best trials overall, often three
        of one cheap family, underestimate it."""
        families = sum(e.fold_seconds for e in self.candidates.best_per_model(3)) * self.refit_factor
        return max(families, self._selected_seconds())

    def _selected_seconds(self) -> float:
        version, when, took, seconds = self._selected
        started = time.monotonic()
        changed = version != self.candidates.version
        if self.select is not None and len(self.candidates) >= 2 and changed and (
            started - when >= took / SELECTION_TIME_SHARE
        ):
            entries = self.candidates.entries
            members = [n for n in self.select() if n in entries]
            seconds = sum(entries[n].fold_seconds for n in members) * self.refit_factor
            now = time.monotonic()
            self._selected = (self.candidates.version, now, now - started, seconds)
        return seconds

    def selection_seconds(self) -> float:
        """How long greedy selection over the candidates took when last run (run again, within
        ``SELECTION_TIME_SHARE`` of the time, when the candidates changed)."""
        self._selected_seconds()
        return self._selected[2]

    def refit_reserve(self) -> float:
        """Seconds kept back from the trials for the refit, with a margin for misprediction."""
        if self.best.number is None or self.settings.worker:
            return 0.0
        if self.bagged:
            # No refit, but ensemble selection over the bags' out-of-fold predictions runs at the end:
            # its seconds as last measured are kept (adult at 60 s once ended 6.7 s past the budget).
            selection = self.selection_seconds() if self.settings.ensemble else 0.0
            return REFIT_FIXED_SECONDS + selection * REFIT_SAFETY
        if self.best.cut:
            # A best trial its deadline stopped keeps its own model, with no refit and so no ensemble
            # (a refit in about as long would be stopped too): on the scale benchmark, the reserve for
            # a Keras trial cut at its 64 s cap ended the search after 3 trials, and the refit it was
            # kept for was then cut and discarded.
            return REFIT_FIXED_SECONDS
        needed = self.refit_estimate()
        ensemble = self.ensemble_estimate()
        if ensemble <= ENSEMBLE_RESERVE_SHARE * self.settings.time_budget:
            needed = max(needed, ensemble)
        return REFIT_FIXED_SECONDS + needed * REFIT_SAFETY

    def trial_deadline(self) -> float:
        return self.settings.deadline - FINISH_SECONDS - self.refit_reserve()

    def deadline_of_a_trial(self, fits: int) -> float:
        """When a trial starting now must end: within its cap, and before the refit's reserve with
        room for its own refit (a trial of ``fits`` cross-validation fits may join the ensemble, and the
        reserve counts only the trials done; the last trial used to run into it)."""
        now = time.monotonic()
        left = self.trial_deadline() - now
        if fits > 1 and not self.bagged and not self.settings.worker:
            left /= 1.0 + self.refit_factor * REFIT_SAFETY / fits
        return now + min(left, self.trial_cap())

    def trial_seconds_left(self) -> float:
        return self.trial_deadline() - time.monotonic()

    def no_time_for_a_trial(self) -> bool:
        return self.trial_seconds_left() < MIN_TRIAL_SECONDS

    def trial_cap(self) -> float:
        """Seconds one trial may run: ``trial_timeout``, else a share of the time budget."""
        if self.settings.trial_timeout is not None:
            return self.settings.trial_timeout
        return max(TRIAL_BUDGET_SHARE * self.settings.time_budget, MIN_TRIAL_CAP_SECONDS)

    def refit_deadline(self) -> float:
        """When the refit and the ensemble's must end: the result's own seconds are kept back."""
        return self.settings.deadline - FINISH_SECONDS

    def refit_seconds_left(self) -> float:
        return self.refit_deadline() - time.monotonic()

    def too_late_to_load(self, adapter: FrameworkAdapter) -> bool:
        """Whether loading the framework (not imported yet) would eat the time left for trials."""
        left = self.trial_seconds_left()
        return adapter.import_name not in sys.modules and left < 2 * adapter.import_seconds


def sampled_rows(n_rows: int) -> int | None:
    """The fewest training rows :func:`subsample` may leave a trial on ``n_rows`` rows (None: it never
    samples them): what the recommender judges a slow framework's trial on."""
    if n_rows <= CV3_MAX_ROWS:
        return None
    train = n_rows * fits_per_trial(n_rows)  # the holdout's training share
    return SUBSAMPLE_MIN_ROWS if train > SUBSAMPLE_MIN_ROWS else None


def subsample(
    resampling: Resampling, y: pd.Series, recommendation: Recommendation, settings: SearchSettings,
    spec: RunSpec | None, messages: list[str],
) -> tuple[Resampling, RunSpec | None]:
    """A holdout whose training rows are sampled down when too few trials would fit (see above),
    and the spec with the decision recorded (a resumed study or a worker keeps the study's own)."""
    tr, va = resampling.splits[0]
    if resampling.kind != "holdout" or not recommendation.candidates:
        return resampling, spec
    per_trial = recommendation.best.seconds_per_trial
    fit = settings.time_budget / max(per_trial, 1e-3)
    rows = max(SUBSAMPLE_MIN_ROWS, int(len(tr) * fit / SUBSAMPLE_MIN_TRIALS))
    if spec is not None and spec.subsample_decided:
        rows = spec.subsample_rows or len(tr)
    elif fit >= SUBSAMPLE_MIN_TRIALS or rows >= len(tr):
        rows = len(tr)
    if spec is not None:
        spec = spec.with_subsample(rows if rows < len(tr) else None)
    if rows >= len(tr):
        return resampling, spec
    from sklearn.model_selection import train_test_split

    strat = y.iloc[tr] if resampling.stratified else None
    sub, _ = train_test_split(tr, train_size=rows, random_state=settings.seed, stratify=strat)
    msg = (
        f"trials trained on {rows:,} of {len(tr):,} training rows (~{fit:.0f} trials of "
        f"{recommendation.best.display_name} fit the budget on all of them); the final model uses all rows"
    )
    logger.info(msg)
    messages.append(msg)
    return replace(resampling, splits=((np.sort(sub), va),)), spec
