"""The end of a search: the best trial refitted on all rows, then replaced by an ensemble if one
validates better and its refit fits in the time left.

When the time left cannot refit on all rows, the refit uses the most rows that fit, or keeps the
trial's own model; a best trial that ran elsewhere (an earlier session, another worker) must be
refitted, even past the budget, and the result says so.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automl.metrics import Metric
from automl.search._best import BestSoFar, Candidates
from automl.search._cores import CoreBudget
from automl.search._interrupts import Interrupts
from automl.search._settings import SearchOutcome, SearchSettings
from automl.search._study_setup import best_trial
from automl.search._time_plan import REFIT_SAFETY, TimePlan
from search_spaces import Config, FeatureSpec, FrameworkAdapter, fit_budget

logger = logging.getLogger("automl")

#: Up to this many training rows (where the search cross-validates on 5 folds drawn 3 times), the
#: ensemble's weights are greedy selection's averaged over bootstrap samples of the out-of-fold rows:
#: one pass fits the weights to those few rows' noise (``benchmarks.ensemble_selection``;
#: docs/benchmarks.md, "Ensemble weights on small data"). The samples are bounded by time: one pass
#: scores every candidate up to 25 times, and a many-class log loss costs several times an RMSE.
BOOTSTRAP_MAX_ROWS = 1_000
SELECTION_BOOTSTRAPS = 20
MIN_SELECTION_BOOTSTRAPS = 5
SELECTION_BUDGET_SHARE = 0.03


def config_of(trial: optuna.trial.FrozenTrial) -> Config:
    return Config(trial.params["framework"], trial.user_attrs["family"], dict(trial.user_attrs["config"]))


def refit_sample(
    y: pd.Series, *, classification: bool, refit_factor: float, seed: int, left: float, needed: float
) -> np.ndarray | None:
    """Row positions for a refit that fits in ``left`` seconds when all rows need ``needed``: the
    most rows that fit (a stratified sample for classification), or None when that is under
    twice the rows the trial's model was fitted on (not worth the time)."""
    total = len(y)
    rows = int(total * left / (needed * REFIT_SAFETY))
    if rows < 2 * total / refit_factor or rows >= total:
        return None
    from sklearn.model_selection import train_test_split

    classes = y.value_counts() if classification else None
    strat = y if classes is not None and classes.min() >= 2 and len(classes) <= rows else None
    sample, _ = train_test_split(np.arange(total), train_size=rows, random_state=seed, stratify=strat)
    return np.sort(sample)


class Refitter:
    """Turns the study's best trials into the final model: a refit on all rows, then an ensemble."""

    def __init__(
        self, X: pd.DataFrame, y: pd.Series, spec: FeatureSpec, metric: Metric,
        adapters: dict[str, FrameworkAdapter], settings: SearchSettings, *, plan: TimePlan, best: BestSoFar,
        candidates: Candidates, cores: CoreBudget, interrupts: Interrupts, eval_index: np.ndarray,
        classes: np.ndarray | None, messages: list[str],
    ) -> None:
        self.X, self.y, self.spec, self.metric = X, y, spec, metric
        self.adapters, self.settings = adapters, settings
        self.plan, self.best, self.candidates = plan, best, candidates
        self.cores, self.interrupts, self.messages = cores, interrupts, messages
        self.eval_index, self.classes = eval_index, classes
        #: How often each row was predicted out of fold (the folds' repeats on small data).
        self.repeats = len(eval_index) // max(1, len(np.unique(eval_index)))
        #: Bootstrap samples the last selection averaged its weights over (0: one greedy pass).
        self.selection_samples = 0

    def _pool(self) -> dict[int, np.ndarray]:
        """The candidates ensemble selection may pick, by their out-of-fold predictions: with bagging,
        only trials whose fold models were kept (a bag too large was not)."""
        return {n: e.pred for n, e in self.candidates.entries.items() if e.bag is not None or not self.plan.bagged}

    def likely_members(self) -> dict[int, float]:
        """The ensemble selection would pick from the candidates now (the time plan's reserve)."""
        weights, _ = self.select(*self._judged(self._pool()))
        return weights

    def _judged(self, preds: dict[int, np.ndarray]) -> tuple[dict[int, np.ndarray], Any, Any, Any, np.ndarray]:
        """What ensemble selection scores: the candidates' out-of-fold predictions, the target (encoded
        for the scorer), the scorer, the classes and the row each prediction is for. When the final
        model averages fold models (bagging) and the folds were drawn several times, each row's
        predictions are averaged over the repeats (``selection_rows="averaged"``): a network's bag
        averages 15 fold models, and one fold model's prediction understates it most (see
        :func:`automl.search._ensemble.average_repeats`)."""
        from automl.search._ensemble import average_repeats, encoded_target

        y_eval, scorer, classes = encoded_target(self.y.iloc[self.eval_index], self.metric, self.classes)
        if not self.averages_repeats:
            return preds, y_eval, scorer, classes, self.eval_index
        averaged, y_rows, rows = average_repeats(preds, y_eval, self.eval_index)
        return averaged, y_rows, scorer, classes, rows

    @property
    def averages_repeats(self) -> bool:
        """Whether selection scores each row's out-of-fold predictions averaged over the repeats."""
        return self.settings.selection_rows == "averaged" and self.plan.bagged and self.repeats > 1

    def select(
        self, preds: dict[int, np.ndarray], y_eval: Any, scorer: Any, classes: np.ndarray | None, groups: np.ndarray
    ) -> tuple[dict[int, float], float]:
        """Ensemble weights from the out-of-fold predictions, and the ensemble's score: greedy selection,
        on small data averaged over bootstrap samples of the rows (up to :data:`SELECTION_BOOTSTRAPS`,
        as many as fit in :data:`SELECTION_BUDGET_SHARE` of the budget at one greedy pass's pace; with
        fewer than :data:`MIN_SELECTION_BOOTSTRAPS` the single pass stands)."""
        from automl.search._ensemble import bootstrapped_selection, greedy_selection

        started = time.monotonic()
        self.selection_samples = 0
        weights, score = greedy_selection(preds, y_eval, scorer, classes)
        if self.settings.selection != "bootstrap" or len(self.y) > BOOTSTRAP_MAX_ROWS or len(preds) < 2:
            return weights, score
        one_pass = max(time.monotonic() - started, 1e-3)
        samples = min(SELECTION_BOOTSTRAPS, int(SELECTION_BUDGET_SHARE * self.settings.time_budget / one_pass))
        if samples < MIN_SELECTION_BOOTSTRAPS:
            return weights, score
        self.selection_samples = samples
        return bootstrapped_selection(
            preds, y_eval, scorer, classes, groups=groups, samples=samples, seed=self.settings.seed
        )

    def _weights_note(self) -> str:
        rows = "the out-of-fold rows"
        if self.averages_repeats:
            rows = f"the out-of-fold rows (each row's predictions averaged over {self.repeats} repeats)"
        if not self.selection_samples:
            return f"; weights chosen on {rows}" if self.averages_repeats else ""
        return f"; weights averaged over {self.selection_samples} bootstrap samples of {rows}"

    def finish(self, study: optuna.Study, interrupted: bool) -> SearchOutcome:
        """The outcome: the best trial refitted (on all rows when time allows), or why it was not."""
        best = best_trial(study)
        if best is None:
            return SearchOutcome(study, None, None, None, "none", interrupted)
        config = config_of(best)
        mine = self.best
        own = None if mine.model_number is None else study.trials[mine.model_number]
        if best.number != mine.model_number:
            # The best trial ran in an earlier session or another worker: its model is not in memory.
            mine.fold_seconds = float(best.user_attrs.get("fold_seconds", 0.0))
            mine.number, mine.cut = best.number, bool(best.user_attrs.get("cut", False))
        model = mine.model if own is not None and own.number == best.number else None
        if self.plan.bagged and _is_bag(model):
            return self._finish_bagged(study, best, model, interrupted)
        left = self.plan.refit_seconds_left()
        needed = self.plan.refit_estimate()
        if model is None and own is not None and (interrupted or needed > left):
            # No time (or Ctrl-C) for refitting the best trial: this process's best model it is.
            reason = "interrupted" if interrupted else f"refitting trial {best.number} needs ~{needed:.1f}s"
            msg = f"kept this session's best model (trial {own.number}): {reason}"
            self.messages.append(msg)
            return SearchOutcome(study, own, mine.model, config_of(own), "skipped: " + msg, interrupted)
        if model is not None and interrupted:
            return SearchOutcome(study, best, model, config, "skipped: interrupted", interrupted)
        if model is not None and mine.cut and needed * REFIT_SAFETY > left:
            # Its fit was stopped at the trial's deadline: on all rows in about as long it would be stopped too.
            msg = (
                f"kept the best trial's model (trial {best.number}): its fit was stopped at its deadline after "
                f"{mine.fold_seconds:.1f}s, so a refit on all rows needs more than ~{needed:.1f}s; "
                f"{max(left, 0):.1f}s were left"
            )
            logger.info(msg)
            self.messages.append(msg)
            return SearchOutcome(study, best, model, config, "skipped: " + msg, interrupted)
        rows = None
        if model is not None and needed > left:  # no time for all rows: the most rows that fit, or the trial's model
            rows = refit_sample(
                self.y, classification=self.spec.is_classification, refit_factor=self.plan.refit_factor,
                seed=self.settings.seed, left=left, needed=needed,
            )
            if rows is None:
                msg = (
                    f"kept the best trial's model fitted on {1 / self.plan.refit_factor:.0%} of the rows: "
                    f"a refit on all rows needs ~{needed:.1f}s, {max(left, 0):.1f}s were left"
                )
                logger.info(msg)
                return SearchOutcome(study, best, model, config, "skipped: " + msg, interrupted)
        if model is None and needed > left:
            self.messages.append(
                f"the best trial ({best.number}) ran in an earlier session or another process: refitting it "
                f"needs ~{needed:.1f}s with {max(left, 0):.1f}s left, so the budget is exceeded"
            )
            left = needed * 2 + 1
        outcome, refitted = self._refit(study, best, model, rows, left, needed, interrupted)
        if refitted and self.settings.ensemble and not interrupted and rows is None:
            self._ensemble(study, outcome)
        return outcome

    def _finish_bagged(
        self, study: optuna.Study, best: optuna.trial.FrozenTrial, model: Any, interrupted: bool
    ) -> SearchOutcome:
        """k-fold bagging: the best trial's bag is the final model as it is; an ensemble of bags may replace it."""
        k = len(model.members)
        refit = f"no refit: the final model averages trial {best.number}'s {k} fold models (k-fold bagging)"
        if best.user_attrs.get("truncated"):
            refit += "; its fit was stopped at its deadline, so these are the models it had then"
        logger.info(refit)
        outcome = SearchOutcome(study, best, model, config_of(best), refit, interrupted, bag_folds=k)
        if self.settings.ensemble and not interrupted:
            self._ensemble(study, outcome)
        return outcome

    def _refit(
        self, study: optuna.Study, best: optuna.trial.FrozenTrial, model: Any, rows: np.ndarray | None,
        left: float, needed: float, interrupted: bool,
    ) -> tuple[SearchOutcome, bool]:
        """The best trial's configuration fitted on ``rows`` (None: all) within ``left`` seconds, and
        True; where that fails, is interrupted or runs out of time, the trial's ``model`` (if there is
        one) and False."""
        config = config_of(best)
        X_fit, y_fit = (self.X, self.y) if rows is None else (self.X.iloc[rows], self.y.iloc[rows])
        n_threads = self.cores.threads()
        estimator = self.adapters[config.framework].build(
            config, self.spec, device=best.user_attrs.get("device", "cpu"), seed=self.settings.seed, n_jobs=n_threads,
        )
        started = time.monotonic()
        try:
            with self.interrupts.arm(), fit_budget(started + left), _threads(n_threads):
                estimator.fit(X_fit, y_fit)
        except KeyboardInterrupt:
            if self.interrupts.aborted or model is None:
                raise
            return SearchOutcome(study, best, model, config, "skipped: interrupted during the refit", True), False
        except Exception as e:
            if model is None:
                raise
            logger.warning("refit on all rows failed (%s: %s); keeping the trial's model", type(e).__name__, e)
            return SearchOutcome(study, best, model, config, f"failed: {type(e).__name__}: {e}", interrupted), False
        if _cut_short(estimator, left, needed) and model is not None:
            return SearchOutcome(study, best, model, config, "skipped: the refit ran out of time", interrupted), False
        took = time.monotonic() - started
        logger.info("refitted %s/%s on %d rows in %.2fs", config.framework, config.family, len(y_fit), took)
        # The predicted seconds stay next to the measured ones: the reserve kept for the refit came from them.
        if rows is None:
            refit = f"refitted on all rows in {took:.1f}s (predicted ~{needed:.1f}s)"
        else:
            refit = (
                f"refitted on {len(y_fit):,} of {len(self.y):,} rows in {took:.1f}s: all rows needed "
                f"~{needed:.1f}s and {left:.1f}s were left"
            )
            self.messages.append(refit)
        return SearchOutcome(study, best, estimator, config, refit, interrupted), True

    def _ensemble(self, study: optuna.Study, outcome: SearchOutcome) -> None:
        """Ensemble selection after the refit; Ctrl-C skips it (a second Ctrl-C aborts)."""
        try:
            with self.interrupts.arm():
                self.try_ensemble(study, outcome)
        except KeyboardInterrupt:
            if self.interrupts.aborted:
                raise
            outcome.interrupted = True
            outcome.messages.append("ensemble selection was skipped: interrupted")

    def try_ensemble(self, study: optuna.Study, outcome: SearchOutcome) -> None:
        """Replace the single best model by a greedy ensemble when it validates better and fits in time."""
        from automl.search._ensemble import score_predictions

        preds = self._pool()
        if len(preds) < 2 or outcome.best_trial is None:
            outcome.refit += "; no ensemble: fewer than 2 trials to combine"
            if self.plan.bagged and len(preds) < len(self.candidates):
                outcome.refit += " whose fold models were kept"
            return
        preds, y_eval, scorer, classes, groups = self._judged(preds)
        weights, score = self.select(preds, y_eval, scorer, classes, groups)
        best_value = float(outcome.best_trial.value)  # type: ignore[arg-type]
        # Compare like with like: the ensemble is scored on all out-of-fold rows pooled, the trial's
        # value is a mean over folds (for RMSE the pooled score is never the better of the two).
        best_number = outcome.best_trial.number
        if best_number in preds:
            best_value = score_predictions(scorer, preds[best_number], y_eval, classes)
        if len(weights) < 2 or score <= best_value:
            logger.info("ensemble selection kept the single best model (ensemble %.5g)", self.metric.display(score))
            outcome.refit += (
                f"; no ensemble: none validated better than the best trial ({self.metric.display_name} "
                f"{self.metric.display(best_value):.5g})"
            )
            return
        if self.plan.bagged:
            self._adopt_bags(outcome, weights, {n: study.trials[n] for n in weights}, score)
            return
        chosen = self._affordable(study, preds, (y_eval, scorer, classes, groups, best_value), weights, score, outcome)
        if chosen is None:
            return
        weights, score, needed, without = chosen
        trials = {n: study.trials[n] for n in weights}
        started = time.monotonic()
        members = self._refit_members(trials, outcome)
        if members is None:
            return
        self._adopt(outcome, members, weights, trials, score)
        outcome.refit = (
            f"ensemble of {len(members)} trials refitted on all rows in {time.monotonic() - started:.1f}s "
            f"(predicted ~{needed:.1f}s){without}{self._weights_note()}"
        )
        logger.info(
            "ensemble of %d trials: %s=%.5g (best single %.5g)", len(members), self.metric.display_name,
            self.metric.display(score), self.metric.display(best_value),
        )

    def _affordable(
        self, study: optuna.Study, preds: dict[int, np.ndarray], judge: tuple[Any, Any, Any, np.ndarray, float],
        weights: dict[int, float], score: float, outcome: SearchOutcome,
    ) -> tuple[dict[int, float], float, float, str] | None:
        """The selection whose members' refits fit in the time left, its score, their predicted seconds
        and what was left out: while they do not fit, the costliest member other than the best trial
        (already refitted) leaves the pool and selection runs again, as long as the ensemble still
        validates better than the best trial. None, with the reason in ``outcome.refit``, otherwise."""
        y_eval, scorer, classes, groups, best_value = judge
        best_number = outcome.best_trial.number  # type: ignore[union-attr]
        pool, dropped, first = dict(preds), [], ""
        while True:
            # The best trial's model is already refitted on all rows: only the other members cost time.
            # (Counting it too once dropped a better ensemble on california_houses at 300 s: ~6.6 s
            # "needed" with 6.1 s left, of which the best model's ~3.3 s was already spent.)
            seconds = {n: self.plan.trial_refit_seconds(study.trials[n]) for n in weights if n != best_number}
            needed, left = sum(seconds.values()), self.plan.refit_seconds_left()
            if needed <= left:
                without = f"; without trial(s) {', '.join(map(str, dropped))}: {first}" if dropped else ""
                return weights, score, needed, without
            first = first or (
                f"one of {len(weights)} trials validated better ({self.metric.display(score):.5g}) but refitting "
                f"its other members needed ~{needed:.1f}s and {max(left, 0):.1f}s were left"
            )
            costly = max(seconds, key=lambda n: seconds[n])
            dropped.append(costly)
            del pool[costly]
            # An ensemble selected on the cheaper pool (a network's refit often costs most: mfeat_factors at
            # 300 s once kept a single model because its members needed ~33 s with 5 s left).
            weights, score = self.select(pool, y_eval, scorer, classes, groups)
            if len(weights) < 2 or score <= best_value:
                outcome.refit += (
                    f"; no ensemble: {first}, and none without the {len(dropped)} costliest validated better"
                )
                return None

    def _refit_members(
        self, trials: dict[int, optuna.trial.FrozenTrial], outcome: SearchOutcome
    ) -> list[Any] | None:
        """The members refitted on all rows (the best trial's model as it is), or None, with the
        reason added to ``outcome.refit``, when one fails or runs out of time."""
        best = outcome.best_trial.number  # type: ignore[union-attr]
        fitted: dict[int, Any] = {best: outcome.best_model}
        # A network whose trial fitted its schedule to its deadline (``shortened``) would do the same
        # with the whole refit time and leave the next member none: the other members refit first,
        # leaving the networks their predicted seconds, which they then share by those predictions.
        needs = {n: self.plan.trial_refit_seconds(t) for n, t in trials.items()}
        order = sorted((n for n in trials if n != best), key=lambda n: bool(trials[n].user_attrs.get("shortened")))
        for i, n in enumerate(order):
            t = trials[n]
            later = [m for m in order[i + 1 :] if trials[m].user_attrs.get("shortened")]
            left = self.plan.refit_seconds_left()
            if t.user_attrs.get("shortened"):
                given = left * needs[n] / max(needs[n] + sum(needs[m] for m in later), 1e-9)
            else:
                given = max(left - sum(needs[m] for m in later), 0.0)
            cfg = config_of(t)
            n_threads = self.cores.threads()
            est = self.adapters[cfg.framework].build(
                cfg, self.spec, device=t.user_attrs.get("device", "cpu"), seed=self.settings.seed, n_jobs=n_threads,
            )
            try:
                with fit_budget(time.monotonic() + given), _threads(n_threads):
                    est.fit(self.X, self.y)
            except Exception as e:
                logger.warning("ensemble member %d failed to refit (%s); keeping the single best model", n, e)
                outcome.refit += f"; no ensemble: member trial {n} failed to refit ({type(e).__name__})"
                return None
            if _cut_short(est, given, needs[n]):
                outcome.refit += "; no ensemble: its refit ran out of time"
                return None
            fitted[n] = est
        return [fitted[n] for n in trials]

    def _adopt_bags(
        self, outcome: SearchOutcome, weights: dict[int, float], trials: dict[int, optuna.trial.FrozenTrial],
        score: float,
    ) -> None:
        """The chosen trials' bags averaged with their weights: one flat ensemble of fold models, no refit."""
        from automl.search._ensemble import flatten

        bags = [self.candidates.entries[n].bag for n in weights]
        if any(b is None for b in bags):
            outcome.refit += "; no ensemble: a chosen trial's fold models were not kept"
            return
        folds = {n: len(b.members) for n, b in zip(weights, bags, strict=True)}
        self._adopt(outcome, flatten(bags, list(weights.values())), weights, trials, score, folds)
        outcome.refit = (
            f"ensemble of {len(bags)} bagged trials ({sum(folds.values())} fold models averaged), no refit"
            f"{self._weights_note()}"
        )
        logger.info("%s: %s=%.5g", outcome.refit, self.metric.display_name, self.metric.display(score))

    @staticmethod
    def _adopt(
        outcome: SearchOutcome, members: Any, weights: dict[int, float],
        trials: dict[int, optuna.trial.FrozenTrial], score: float, folds: dict[int, int] | None = None,
    ) -> None:
        """Make the ensemble the final model: ``members`` (refitted pipelines, one per trial) or, with
        ``folds`` (each trial's fold count), the flat ensemble of the trials' bags."""
        from automl.search._ensemble import WeightedEnsemble

        if folds is None:
            ensemble = WeightedEnsemble(members=members, weights=list(weights.values()))
            ensemble.fitted_ = True
        else:
            ensemble = members
        outcome.best_model = ensemble
        outcome.ensemble_score = score
        outcome.ensemble = [
            {"trial": n, "framework": trials[n].params["framework"], "model": trials[n].user_attrs["family"],
             "weight": round(w, 4), **({} if folds is None else {"folds": folds[n]})}
            for n, w in weights.items()
        ]


#: A refit whose schedule was shortened to its deadline (a network's ``shortened_``) is kept when it
#: had at least this share of the seconds predicted for it: a complete fit, not a starved one.
SHORTENED_REFIT_SHARE = 0.5


def _is_bag(model: Any) -> bool:
    """Whether a trial's model is its k-fold bag (not a single fold's model, kept when folds disagreed on classes)."""
    from automl.search._ensemble import WeightedEnsemble

    return isinstance(model, WeightedEnsemble)


def _cut_short(estimator: Any, given: float, needed: float) -> bool:
    """A refit its deadline stopped mid-way (``truncated_``), or one that fitted its schedule into
    less than :data:`SHORTENED_REFIT_SHARE` of the seconds its trial predicted for it."""
    last = estimator[-1] if hasattr(estimator, "steps") else estimator
    if getattr(last, "truncated_", False):
        return True
    return bool(getattr(last, "shortened_", False)) and given < SHORTENED_REFIT_SHARE * needed


def _threads(n_threads: int) -> Any:
    """Cap BLAS and OpenMP threads at the model's thread count: OpenMP learners otherwise take every core."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads)
