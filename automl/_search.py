"""One Optuna study across frameworks, model families and hyper-parameters, inside a time budget.

The study's first choice is the framework among the recommended candidates, then the family,
then its hyper-parameters (names scoped ``framework.family.param``). Trials run through Optuna's
ask-and-tell interface so that the loop, not a timer thread, decides when the next trial may
start: a trial starts only when it can finish before the time kept back for the final refit.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automl._cores import CoreBudget
from automl._folds import fit_folds
from automl._progress import Progress
from automl._pruning import PerFrameworkPruner
from automl._resampling import Resampling
from automl.metrics import Metric
from recommender import Recommendation
from search_spaces import Config, FeatureSpec, FrameworkAdapter, fit_budget, get_adapter

logger = logging.getLogger("automl")

#: Seconds kept for building the result after the refit.
FINISH_SECONDS = 0.5
#: A new trial starts only with at least this many seconds left for it.
MIN_TRIAL_SECONDS = 0.5
#: The refit on all rows is predicted from the best trial's fit time, with this safety factor.
REFIT_SAFETY = 1.25
REFIT_FIXED_SECONDS = 0.25
#: Row subsampling on large data: when fewer than SUBSAMPLE_MIN_TRIALS trials of the leading
#: candidate fit in the budget on all training rows, trials train on a sample of them (never under
#: SUBSAMPLE_MIN_ROWS) sized for that many trials; the final model is refitted on all rows.
SUBSAMPLE_MIN_TRIALS = 40
SUBSAMPLE_MIN_ROWS = 10_000
#: Under cost-aware allocation the queued configurations (defaults, then the portfolio) start only
#: within this share of the budget; after it, the allocator and the sampler take over.
QUEUE_SHARE = 0.25
#: Out-of-fold predictions are kept for this many of the best trials, up to this many values each.
ENSEMBLE_CANDIDATES = 15
MAX_OOF_VALUES = 5_000_000


@dataclass
class SearchSettings:
    time_budget: float
    n_trials: int | None
    seed: int
    n_jobs: int
    started: float  # time.monotonic() when fit() was called
    storage: Any = None
    study_name: str | None = None
    verbosity: int = 1
    #: Search features (each can be switched off to measure what it brings; see benchmarks/compare.py).
    ensemble: bool = True  # greedy ensemble selection over the best trials' out-of-fold predictions
    portfolio: bool = True  # warm-start configurations mined from the PMLB pool, tried first
    pruner: str = "sha"  # "sha" (successive halving), "median" or "none", per framework
    allocation: str = "cost"  # "cost" (estimated cost for improvement) or "sampler" (TPE picks)
    subsample: bool = True  # search on a sample of a large holdout's training rows, refit on all

    @property
    def deadline(self) -> float:
        return self.started + self.time_budget


@dataclass
class SearchOutcome:
    study: optuna.Study
    best_trial: optuna.trial.FrozenTrial | None
    best_model: Any
    best_config: Config | None
    refit: str
    interrupted: bool = False
    messages: list[str] = field(default_factory=list)
    #: Members of the ensemble that replaced the single best model, if one validated better.
    ensemble: list[dict[str, Any]] = field(default_factory=list)
    ensemble_score: float | None = None


class Search:
    """Runs the study, keeps the best fitted model in memory, and refits it on all rows."""

    def __init__(
        self,
        X: pd.DataFrame,
        y: pd.Series,
        spec: FeatureSpec,
        recommendation: Recommendation,
        metric: Metric,
        resampling: Resampling,
        settings: SearchSettings,
        adapters: dict[str, FrameworkAdapter] | None = None,
    ) -> None:
        self.X, self.y, self.spec = X, y, spec
        self.recommendation = recommendation
        self.metric = metric
        self.scorer = metric.scorer()
        self.settings = settings
        self.messages: list[str] = []
        self.resampling = self._subsample(resampling) if settings.subsample else resampling
        #: A fit on all rows costs this many times a trial's fit on its training rows.
        self._refit_factor = len(X) / len(self.resampling.splits[0][0])
        self.frameworks = recommendation.frameworks
        given = adapters or {}
        self.adapters = {f: given.get(f) or get_adapter(f) for f in self.frameworks}
        self._best_value = -math.inf
        self._best_model: Any = None
        self._best_fold_seconds = 0.0
        # Out-of-fold predictions of the best trials, for ensemble selection.
        self._eval_index = np.concatenate([va for _, va in resampling.splits])
        self._classes = np.unique(y) if spec.is_classification else None
        width = 1 if self._classes is None else len(self._classes)
        self._keep_oof = len(self._eval_index) * width <= MAX_OOF_VALUES
        self._oof: dict[int, tuple[float, np.ndarray, float]] = {}
        self.progress = Progress(settings.time_budget, settings.started, settings.verbosity, metric.display_name)
        self._allocator = self._make_allocator()
        self._queue: list[Config] = []
        self._cores = CoreBudget(settings.n_jobs, messages=self.messages)
        self._n_threads = self._cores.threads()

    def _make_allocator(self) -> Any:
        if self.settings.allocation == "sampler" or len(self.frameworks) < 2:
            return None
        if self.settings.allocation != "cost":
            raise ValueError(f"allocation must be 'cost' or 'sampler', got {self.settings.allocation!r}")
        from automl._allocation import CostAwareAllocator

        predicted = {c.framework: c.seconds_per_trial for c in self.recommendation.candidates}
        return CostAwareAllocator({f: predicted.get(f, 1.0) for f in self.frameworks}, seed=self.settings.seed)

    def _subsample(self, resampling: Resampling) -> Resampling:
        """A holdout whose training rows are sampled down when too few trials would fit (see above)."""
        tr, va = resampling.splits[0]
        if resampling.kind != "holdout" or not self.recommendation.candidates:
            return resampling
        per_trial = self.recommendation.best.seconds_per_trial
        fit = self.settings.time_budget / max(per_trial, 1e-3)
        rows = max(SUBSAMPLE_MIN_ROWS, int(len(tr) * fit / SUBSAMPLE_MIN_TRIALS))
        if fit >= SUBSAMPLE_MIN_TRIALS or rows >= len(tr):
            return resampling
        from sklearn.model_selection import train_test_split

        strat = self.y.iloc[tr] if resampling.stratified else None
        sub, _ = train_test_split(tr, train_size=rows, random_state=self.settings.seed, stratify=strat)
        msg = (
            f"trials trained on {rows:,} of {len(tr):,} training rows (~{fit:.0f} trials of "
            f"{self.recommendation.best.display_name} fit the budget on all of them); the final model uses all rows"
        )
        logger.info(msg)
        self.messages.append(msg)
        from dataclasses import replace

        return replace(resampling, splits=((np.sort(sub), va),))

    def _threads(self) -> Any:
        """Cap BLAS and OpenMP threads at the model's thread count: OpenMP learners otherwise take every core."""
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=self._n_threads)

    # -- time ---------------------------------------------------------------------------------
    def _refit_estimate(self) -> float:
        """Predicted seconds to refit the best configuration on all rows (0 before any trial)."""
        if self._best_model is None:
            return 0.0
        return self._best_fold_seconds * self._refit_factor

    def _ensemble_estimate(self) -> float:
        """Predicted seconds to refit a likely ensemble: the three best remembered trials."""
        top = sorted(self._oof.values(), key=lambda e: -e[0])[:3]
        return sum(seconds for _, _, seconds in top) * self._refit_factor

    def _refit_reserve(self) -> float:
        """Seconds kept back from the trials for the refit, with a margin for misprediction."""
        if self._best_model is None:
            return 0.0
        return REFIT_FIXED_SECONDS + max(self._refit_estimate(), self._ensemble_estimate()) * REFIT_SAFETY

    def _trial_deadline(self) -> float:
        return self.settings.deadline - FINISH_SECONDS - self._refit_reserve()

    def _too_late_to_load(self, framework: str) -> bool:
        """Whether loading the framework (not imported yet) would eat the time left for trials."""
        adapter = self.adapters[framework]
        left = self._trial_deadline() - time.monotonic()
        return adapter.import_name not in sys.modules and left < 2 * adapter.import_seconds

    # -- study --------------------------------------------------------------------------------
    def _make_study(self) -> optuna.Study:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                seed=self.settings.seed, multivariate=True, group=True, n_startup_trials=8
            )
        pruner = PerFrameworkPruner({name: self._pruner(a) for name, a in self.adapters.items()})
        return optuna.create_study(
            direction="maximize",
            sampler=sampler,
            pruner=pruner,
            storage=self.settings.storage,
            study_name=self.settings.study_name,
            load_if_exists=self.settings.study_name is not None,
        )

    def _pruner(self, adapter: FrameworkAdapter) -> optuna.pruners.BasePruner:
        """Optuna's pruner for one framework's trials; steps are its boosting rounds or epochs."""
        kind = self.settings.pruner
        if kind == "sha":
            # Asynchronous successive halving: a trial reaching a rung (warm-up x 3^k steps) goes on
            # only if it is in the best third of the trials of its framework that reached that rung.
            return optuna.pruners.SuccessiveHalvingPruner(
                min_resource=max(adapter.warmup_steps, 1), reduction_factor=3, min_early_stopping_rate=0
            )
        if kind == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=adapter.warmup_steps)
        if kind == "none":
            return optuna.pruners.NopPruner()
        raise ValueError(f"pruner must be 'sha', 'median' or 'none', got {kind!r}")

    def _enqueue_defaults(self, study: optuna.Study) -> None:
        """The fast baseline, each candidate's defaults, then the warm-start portfolio; then the sampler."""
        per_framework = [self.adapters[f].default_configs(self.spec) for f in self.frameworks]
        order: list[Config] = []
        for r in range(max(len(c) for c in per_framework)):
            order.extend(c[r] for c in per_framework if r < len(c))
        baseline = next((c for c in order if c.framework == "sklearn" and c.family == "hgb"), order[0])
        order.remove(baseline)
        if self._allocator is not None:  # cheapest frameworks' defaults first
            cost = {f: a.cost for f, a in self._allocator.arms.items()}
            order.sort(key=lambda c: cost.get(c.framework, math.inf))
        if self.settings.portfolio:
            from search_spaces._portfolio import portfolio_configs

            # Mined as what to add after the defaults (benchmarks/portfolio.py), so queued after them.
            order += [c for c in portfolio_configs(self.spec, self.frameworks) if c != baseline and c not in order]
        queue = [baseline, *order][: self.settings.n_trials]
        if self._allocator is not None:
            # Handed out one at a time by _next_framework, within QUEUE_SHARE of the budget.
            study.enqueue_trial(baseline.trial_params(), skip_if_exists=True)
            self._queue = queue[1:]
            return
        for config in queue:
            study.enqueue_trial(config.trial_params(), skip_if_exists=True)

    def _objective(self, trial: optuna.Trial) -> float:
        framework = str(trial.suggest_categorical("framework", self.frameworks))
        adapter = self.adapters[framework]
        self.progress.trial_started(framework)
        left = self._trial_deadline() - time.monotonic()
        if self._too_late_to_load(framework):
            # Loading the framework alone would eat the time left; try another framework.
            raise optuna.TrialPruned(
                f"{left:.1f}s left: not enough to load {adapter.display_name} (~{adapter.import_seconds:g}s)"
            )
        config = adapter.suggest(trial, self.spec)
        device = self.recommendation.device_for(framework)
        trial.set_user_attr("family", config.family)
        trial.set_user_attr("config", config.params)
        trial.set_user_attr("device", device)
        self._n_threads = self._cores.threads()
        estimator = adapter.build(config, self.spec, device=device, seed=self.settings.seed, n_jobs=self._n_threads)
        deadline = self._trial_deadline()

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} (intermediate value {value:.4g})")

        folds = fit_folds(
            estimator, self.X, self.y, self.resampling.splits, self.scorer, deadline=deadline, report=report,
            n_threads=self._n_threads, classes=self._classes, keep_oof=self._keep_oof, metric_name=self.metric.name,
        )
        value, first_model, first_seconds = folds.value, folds.first_model, folds.first_seconds
        trial.set_user_attr("fit_seconds", round(folds.elapsed, 4))
        trial.set_user_attr("folds", len(folds.scores))
        trial.set_user_attr("truncated", folds.truncated)
        trial.set_user_attr("fold_seconds", round(first_seconds, 4))
        oof = folds.oof
        complete = len(oof) == self.resampling.n_splits and all(p is not None for p in oof)
        if self._keep_oof and complete and not folds.truncated:
            self._remember_oof(trial.number, value, np.concatenate(oof), first_seconds)  # type: ignore[arg-type]
        if value > self._best_value:
            self._best_value = value
            self._best_model = first_model
            self._best_fold_seconds = first_seconds
        return value

    def _remember_oof(self, number: int, value: float, pred: np.ndarray, fold_seconds: float) -> None:
        self._oof[number] = (value, pred, fold_seconds)
        if len(self._oof) > ENSEMBLE_CANDIDATES:
            worst = min(self._oof, key=lambda n: self._oof[n][0])
            del self._oof[worst]

    def run(self) -> SearchOutcome:
        previous = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own log lines say more
        try:
            outcome = self._run()
            outcome.messages[:0] = self.messages
            return outcome
        finally:
            self.progress.close()
            optuna.logging.set_verbosity(previous)

    def _next_framework(self, study: optuna.Study) -> None:
        """Under cost-aware allocation, fix the next trial's framework (unless one is queued)."""
        if self._allocator is None or study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
            return
        left = self._trial_deadline() - time.monotonic()
        if time.monotonic() - self.settings.started > QUEUE_SHARE * self.settings.time_budget:
            self._queue = []
        while self._queue:
            config = self._queue.pop(0)
            if self._allocator.arms[config.framework].cost <= left:
                study.enqueue_trial(config.trial_params(), skip_if_exists=True)
                return
        study.enqueue_trial({"framework": self._allocator.choose(left)})

    def _run(self) -> SearchOutcome:
        study = self._make_study()
        self._enqueue_defaults(study)
        interrupted = False
        n_done = 0
        while self.settings.n_trials is None or n_done < self.settings.n_trials:
            if self._trial_deadline() - time.monotonic() < MIN_TRIAL_SECONDS:
                break
            if all(self._too_late_to_load(f) for f in self.frameworks):
                # Otherwise every trial is pruned at once, in a tight loop, until the deadline.
                logger.info("too little time left to load %s: stopping the search", " or ".join(self.frameworks))
                break
            self._next_framework(study)
            trial = study.ask()
            trial_started = time.monotonic()
            value = None
            try:
                value = self._objective(trial)
            except optuna.TrialPruned as e:
                trial.set_user_attr("failure", str(e) or "pruned")
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            except KeyboardInterrupt:
                trial.set_user_attr("failure", "interrupted by the user")
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                logger.warning("interrupted: stopping the search and keeping the best model so far")
                interrupted = True
                break
            except Exception as e:  # a failed trial is recorded and the search goes on
                reason = f"{type(e).__name__}: {e}"
                trial.set_user_attr("failure", reason[:500])
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                logger.warning("trial %d failed: %s", trial.number, reason)
            else:
                study.tell(trial, value)
                self._log_trial(study, trial.number, value)
            finally:
                if self._allocator is not None:
                    fw = str(trial.params.get("framework", ""))
                    self._allocator.observe(fw, time.monotonic() - trial_started, value)
            n_done += 1
            best = self._best_trial(study)
            self.progress.trial_finished(
                None if best is None else self.metric.display(best.value),  # type: ignore[arg-type]
                None if best is None else f"{best.params.get('framework')}/{best.user_attrs.get('family')}",
            )
        self.progress.close()  # the refit's log lines come after the bar
        return self._finish(study, interrupted)

    @staticmethod
    def _best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
        try:
            return study.best_trial
        except ValueError:  # no trial completed yet
            return None

    def _log_trial(self, study: optuna.Study, number: int, value: float) -> None:
        t = study.trials[number]
        best = study.best_trial
        left = self.settings.deadline - time.monotonic()
        logger.log(
            logging.INFO if self.settings.verbosity >= 2 else logging.DEBUG,
            "trial %d %s/%s %s=%.5g in %.2fs | best %.5g (%s/%s, trial %d) | %.0fs left",
            number, t.params.get("framework"), t.user_attrs.get("family"), self.metric.display_name,
            self.metric.display(value), t.user_attrs.get("fit_seconds", 0.0),
            self.metric.display(best.value), best.params.get("framework"), best.user_attrs.get("family"),
            best.number, max(left, 0.0),
        )

    # -- refit --------------------------------------------------------------------------------
    def _finish(self, study: optuna.Study, interrupted: bool) -> SearchOutcome:
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            return SearchOutcome(study, None, None, None, "none", interrupted)
        best = study.best_trial
        config = Config(best.params["framework"], best.user_attrs["family"], dict(best.user_attrs["config"]))
        model = self._best_model
        left = self.settings.deadline - FINISH_SECONDS - time.monotonic()
        needed = self._refit_estimate()
        if interrupted:
            return SearchOutcome(study, best, model, config, "skipped: interrupted", interrupted)
        if needed > left:  # a refit that still runs out of time falls back to the trial's model
            msg = (
                f"kept the best trial's model fitted on {1 / self._refit_factor:.0%} of the rows: "
                f"a refit on all rows needs ~{needed:.1f}s, {max(left, 0):.1f}s were left"
            )
            logger.info(msg)
            return SearchOutcome(study, best, model, config, "skipped: " + msg, interrupted)
        adapter = self.adapters[config.framework]
        self._n_threads = self._cores.threads()
        estimator = adapter.build(
            config, self.spec, device=best.user_attrs.get("device", "cpu"),
            seed=self.settings.seed, n_jobs=self._n_threads,
        )
        started = time.monotonic()
        try:
            with fit_budget(self.settings.deadline - FINISH_SECONDS), self._threads():
                estimator.fit(self.X, self.y)
        except Exception as e:
            logger.warning("refit on all rows failed (%s: %s); keeping the trial's model", type(e).__name__, e)
            return SearchOutcome(study, best, model, config, f"failed: {type(e).__name__}: {e}", interrupted)
        if getattr(estimator[-1], "truncated_", False):
            return SearchOutcome(study, best, model, config, "skipped: the refit ran out of time", interrupted)
        logger.info(
            "refitted %s/%s on all %d rows in %.2fs",
            config.framework, config.family, len(self.y), time.monotonic() - started,
        )
        outcome = SearchOutcome(study, best, estimator, config, "refitted on all rows", interrupted)
        if self.settings.ensemble:
            self._try_ensemble(study, outcome)
        return outcome

    # -- ensemble -----------------------------------------------------------------------------
    def _try_ensemble(self, study: optuna.Study, outcome: SearchOutcome) -> None:
        """Replace the single best model by a greedy ensemble when it validates better and fits in time."""
        from automl._ensemble import WeightedEnsemble, greedy_selection, score_predictions

        if len(self._oof) < 2 or outcome.best_trial is None:
            return
        y_eval = self.y.iloc[self._eval_index]
        preds = {n: p for n, (_, p, _) in self._oof.items()}
        weights, score = greedy_selection(preds, y_eval, self.scorer, self._classes)
        best_value = float(outcome.best_trial.value)  # type: ignore[arg-type]
        # Compare like with like: the ensemble is scored on all out-of-fold rows pooled, the trial's
        # value is a mean over folds (for RMSE the pooled score is never the better of the two).
        best_number = outcome.best_trial.number
        if best_number in preds:
            best_value = score_predictions(self.scorer, preds[best_number], y_eval, self._classes)
        if len(weights) < 2 or score <= best_value:
            logger.info("ensemble selection kept the single best model (ensemble %.5g)", self.metric.display(score))
            return
        trials = {n: study.trials[n] for n in weights}
        needed = sum(t.user_attrs.get("fold_seconds", 0.0) for t in trials.values()) * self._refit_factor
        left = self.settings.deadline - FINISH_SECONDS - time.monotonic()
        if needed > left:
            outcome.messages.append(
                f"an ensemble of {len(weights)} trials validated better ({self.metric.display(score):.5g}) but "
                f"refitting it needs ~{needed:.1f}s and {max(left, 0):.1f}s were left"
            )
            return
        members = []
        for n in weights:
            t = trials[n]
            if n == outcome.best_trial.number:
                members.append(outcome.best_model)
                continue
            cfg = Config(t.params["framework"], t.user_attrs["family"], dict(t.user_attrs["config"]))
            self._n_threads = self._cores.threads()
            est = self.adapters[cfg.framework].build(
                cfg, self.spec, device=t.user_attrs.get("device", "cpu"),
                seed=self.settings.seed, n_jobs=self._n_threads,
            )
            try:
                with fit_budget(self.settings.deadline - FINISH_SECONDS), self._threads():
                    est.fit(self.X, self.y)
            except Exception as e:
                logger.warning("ensemble member %d failed to refit (%s); keeping the single best model", n, e)
                return
            if getattr(est[-1], "truncated_", False):
                outcome.messages.append("the ensemble's refit ran out of time: kept the single best model")
                return
            members.append(est)
        ensemble = WeightedEnsemble(members=members, weights=list(weights.values()))
        ensemble.fitted_ = True
        outcome.best_model = ensemble
        outcome.ensemble_score = score
        outcome.ensemble = [
            {"trial": n, "framework": trials[n].params["framework"], "model": trials[n].user_attrs["family"],
             "weight": round(w, 4)}
            for n, w in weights.items()
        ]
        outcome.refit = f"ensemble of {len(members)} trials refitted on all rows"
        logger.info(
            "ensemble of %d trials: %s=%.5g (best single %.5g)", len(members), self.metric.display_name,
            self.metric.display(score), self.metric.display(best_value),
        )
