"""One Optuna study across frameworks, model families and hyper-parameters, inside a time budget.

The study's first choice is the framework among the recommended candidates, then the family,
then its hyper-parameters (names scoped ``framework.family.param``). Trials run through Optuna's
ask-and-tell interface so that the loop, not a timer thread, decides when the next trial may
start: a trial starts only when it can finish before the time kept back for the final refit.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automl._progress import Progress
from automl.errors import InputError
from automl.metrics import Metric
from automl.search import _study
from automl.search._cores import CoreBudget
from automl.search._folds import fit_folds
from automl.search._pruning import PerFrameworkPruner
from automl.search._resampling import Resampling
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
#: Time is kept back for refitting a likely ensemble only while that costs at most this share of
#: the budget; beyond it (large data) trials are worth more, and an ensemble is refitted only if the
#: time left at the end allows (at 1M rows the ensemble share once stopped the search at 1/3 budget).
ENSEMBLE_RESERVE_SHARE = 0.25
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
#: Under cost-aware allocation the queued configurations (defaults, then the portfolio) start only
#: within this share of the budget; after it, the allocator and the sampler take over.
QUEUE_SHARE = 0.25
#: Out-of-fold predictions are kept for this many of the best trials, up to this many values each,
#: and for at most ENSEMBLE_PER_MODEL of one framework's model family: a long search fills the top
#: ranks with near-copies of one lucky configuration (hitters, 300 s: 15 LightGBM variants, holdout
#: RMSE 403 against ~355 for the runs whose ensembles mixed families), and ensemble selection then
#: has nothing different to average.
ENSEMBLE_CANDIDATES = 15
ENSEMBLE_PER_MODEL = 4
MAX_OOF_VALUES = 5_000_000


#: Words in an error that mark it as the GPU's (CUDA out of memory, a driver fault): the trial is run again on the CPU.
GPU_ERROR_WORDS = ("cuda", "gpu", "cudnn", "cublas", "nccl", "device-side", "out of memory", "resourceexhausted")


def _is_gpu_error(error: BaseException) -> bool:
    text = f"{type(error).__name__} {error}".lower()
    return any(word in text for word in GPU_ERROR_WORDS)


_WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
#: How long a process of a shared study waits before checking again on trials others are running.
WAIT_SECONDS = 0.5
#: The seconds searched are written to a persistent study at most this often.
USED_EVERY_SECONDS = 2.0


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
    #: "process": each trial runs in a child process that is killed at the trial's deadline or memory cap.
    isolation: str = "none"
    #: Seconds one trial may run (None: a quarter of the time budget, at least 10 s); learners stop at it
    #: (the trial keeps the folds it finished, marked truncated), isolated trials are killed.
    trial_timeout: float | None = None
    #: With isolation="process": a trial's process is killed above this resident memory (None: 80% of free RAM).
    memory_limit_mb: float | None = None
    #: The run's specification, written into a new study (and read back by resume and workers).
    spec: dict[str, Any] | None = None
    #: The study's framework choices in their fixed order (default: the recommendation's).
    frameworks: list[str] | None = None
    #: A worker runs trials of another process's study until it finishes; no refit, no result.
    worker: bool = False

    @property
    def deadline(self) -> float:
        return self.started + self.time_budget


@dataclass(frozen=True)
class OutOfFold:
    """A finished trial kept as an ensemble candidate: its value, its predictions on the
    validation rows, one fold's fit seconds (for the refit estimate) and "framework/family"."""

    value: float
    pred: np.ndarray
    fold_seconds: float
    model: str


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
    #: A worker's trials by state.
    worker_summary: dict[str, Any] = field(default_factory=dict)


class Interrupts:
    """Ctrl-C during a search: the first stops it (abandoning the running trial), the second aborts.

    Installed as the SIGINT handler while the search runs (main thread only). The first Ctrl-C
    raises KeyboardInterrupt only while a trial or the refit runs (``armed``); between trials it
    only asks the loop to stop. The second raises wherever the program is.
    """

    def __init__(self) -> None:
        self.count = 0
        self.armed = False
        self._previous: Any = None

    @property
    def aborted(self) -> bool:
        return self.count >= 2

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count >= 2:
            raise KeyboardInterrupt
        logger.warning("Ctrl-C: stopping the search and keeping the best model so far (press Ctrl-C again to abort)")
        if self.armed:
            raise KeyboardInterrupt

    def __enter__(self) -> Interrupts:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    @contextmanager
    def arm(self) -> Iterator[None]:
        self.armed = True
        try:
            yield
        finally:
            self.armed = False


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
        self.frameworks = list(settings.frameworks or recommendation.frameworks)
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
        self._oof: dict[int, OutOfFold] = {}  # the ensemble candidates, by trial number
        self.progress = Progress(settings.time_budget, settings.started, settings.verbosity, metric.display_name)
        self._allocator = self._make_allocator()
        self._queue: list[Config] = []
        self._cores = CoreBudget(settings.n_jobs, messages=self.messages)
        self._n_threads = self._cores.threads()
        self._best_number: int | None = None  # the best trial known (this process's or another's)
        self._model_number: int | None = None  # the trial whose first-fold model _best_model is
        self._interrupts = Interrupts()
        self._devices: dict[str, str] = {}  # frameworks moved to the CPU after a GPU error
        self._mine: dict[str, int] = {}  # this process's trials by state (a worker's summary)
        self._trial_process: Any = None  # automl.search._isolation.TrialProcess, with isolation="process"
        self._used_before = 0.0  # seconds searched in earlier sessions of a resumed study
        self._used_saved = 0.0

    def _make_allocator(self) -> Any:
        if self.settings.allocation == "sampler" or len(self.frameworks) < 2:
            return None
        if self.settings.allocation not in ("cost", "uniform"):
            raise ValueError(f"allocation must be 'cost', 'uniform' or 'sampler', got {self.settings.allocation!r}")
        from automl.search._allocation import CostAwareAllocator, UniformAllocator

        predicted = {c.framework: c.seconds_per_trial for c in self.recommendation.candidates}
        kind = CostAwareAllocator if self.settings.allocation == "cost" else UniformAllocator
        return kind({f: predicted.get(f, 1.0) for f in self.frameworks}, seed=self.settings.seed)

    def _subsample(self, resampling: Resampling) -> Resampling:
        """A holdout whose training rows are sampled down when too few trials would fit (see above)."""
        tr, va = resampling.splits[0]
        if resampling.kind != "holdout" or not self.recommendation.candidates:
            return resampling
        recorded = self.settings.spec or {}
        per_trial = self.recommendation.best.seconds_per_trial
        fit = self.settings.time_budget / max(per_trial, 1e-3)
        rows = max(SUBSAMPLE_MIN_ROWS, int(len(tr) * fit / SUBSAMPLE_MIN_TRIALS))
        if "subsample_rows" in recorded:  # a resumed study or a worker: the study's own sample
            rows = recorded["subsample_rows"] or len(tr)
        elif fit >= SUBSAMPLE_MIN_TRIALS or rows >= len(tr):
            rows = len(tr)
        if self.settings.spec is not None:
            self.settings.spec["subsample_rows"] = rows if rows < len(tr) else None
        if rows >= len(tr):
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
        if self._best_number is None:
            return 0.0
        return self._best_fold_seconds * self._refit_factor

    def _ensemble_estimate(self) -> float:
        """Predicted seconds to refit a likely ensemble: the best trial of each of the three best
        model families. Greedy selection mixes families (near-identical members add nothing), so
        the three best trials overall, often three of one cheap family, underestimate it."""
        best: dict[str, OutOfFold] = {}
        for entry in sorted(self._oof.values(), key=lambda e: -e.value):
            best.setdefault(entry.model, entry)
        return sum(e.fold_seconds for e in list(best.values())[:3]) * self._refit_factor

    def _refit_reserve(self) -> float:
        """Seconds kept back from the trials for the refit, with a margin for misprediction."""
        if self._best_number is None or self.settings.worker:
            return 0.0
        needed = self._refit_estimate()
        ensemble = self._ensemble_estimate()
        if ensemble <= ENSEMBLE_RESERVE_SHARE * self.settings.time_budget:
            needed = max(needed, ensemble)
        return REFIT_FIXED_SECONDS + needed * REFIT_SAFETY

    def _trial_deadline(self) -> float:
        return self.settings.deadline - FINISH_SECONDS - self._refit_reserve()

    def _trial_cap(self) -> float:
        """Seconds one trial may run: ``trial_timeout``, else a share of the time budget."""
        if self.settings.trial_timeout is not None:
            return self.settings.trial_timeout
        return max(TRIAL_BUDGET_SHARE * self.settings.time_budget, MIN_TRIAL_CAP_SECONDS)

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
        study = optuna.create_study(
            direction="maximize",
            sampler=sampler,
            pruner=pruner,
            storage=self.settings.storage,
            study_name=self.settings.study_name,
            load_if_exists=self.settings.study_name is not None,
        )
        spec = self.settings.spec
        recorded = study.user_attrs.get(_study.SPEC_ATTR)
        if recorded is None and spec is not None and not self.settings.worker:
            study.set_user_attr(_study.SPEC_ATTR, spec)
        elif recorded is not None and spec is not None:
            self._check_same_search(study, recorded, spec)
        if study.trials:
            self._learn_from(study)
        return study

    def _check_same_search(self, study: optuna.Study, recorded: dict[str, Any], spec: dict[str, Any]) -> None:
        """A study continued by another call must hold the same search: same data, target and space."""
        for key, what in (("target", "target"), ("metric", "metric"), ("frameworks", "frameworks")):
            if recorded.get(key) != spec.get(key):
                raise InputError(
                    f"study {study.study_name!r} already holds a search with {what} {recorded.get(key)!r}, "
                    f"not {spec.get(key)!r}; pass another study_name to start a new search"
                )
        if recorded["data"]["fingerprint"] != spec["data"]["fingerprint"]:
            raise InputError(
                f"study {study.study_name!r} already holds a search on other data; "
                "pass the same data or another study_name"
            )

    def _learn_from(self, study: optuna.Study) -> None:
        """What a study continued from earlier sessions or other workers already knows."""
        self._used_before = self._used_saved = float(study.user_attrs.get(_study.USED_ATTR, 0.0))
        for t in study.get_trials(deepcopy=False, states=_FINISHED):
            framework = str(t.params.get("framework", ""))
            value = t.value if t.state == optuna.trial.TrialState.COMPLETE else None
            if self._allocator is not None:
                self._allocator.observe(framework, float(t.user_attrs.get("fit_seconds", 0.0)), value)
            if value is not None and value > self._best_value:
                self._best_value, self._best_number = float(value), t.number
                self._best_fold_seconds = float(t.user_attrs.get("fold_seconds", 0.0))
        done = self._done(study)
        if done:
            logger.info("the study holds %d finished trial(s) from earlier: continuing it", done)

    @staticmethod
    def _done(study: optuna.Study) -> int:
        """Finished trials, not counting failures that were queued again (interrupted or killed)."""
        trials = study.get_trials(deepcopy=False)
        retried = {t.system_attrs["failed_trial"] for t in trials if "failed_trial" in t.system_attrs}
        return sum(
            1 for t in trials
            if t.state in _FINISHED
            and not (t.state == optuna.trial.TrialState.FAIL and t.number in retried)
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
        if self._allocator is not None and self.settings.allocation == "cost":  # cheapest frameworks' defaults first
            cost = {f: a.cost for f, a in self._allocator.arms.items()}
            order.sort(key=lambda c: cost.get(c.framework, math.inf))
        if self.settings.portfolio:
            from search_spaces._portfolio import portfolio_configs

            # Mined as what to add after the defaults (benchmarks/portfolio.py), so queued after them.
            order += [c for c in portfolio_configs(self.spec, self.frameworks) if c != baseline and c not in order]
        queue = [baseline, *order][: self.settings.n_trials]
        if study.trials:  # a continued study: configurations already tried are not queued again
            tried = [t.params for t in study.trials]
            queue = [c for c in queue if c.trial_params() not in tried]
            if not queue:
                return
        if self._allocator is not None:
            # Handed out one at a time by _next_framework, within QUEUE_SHARE of the budget.
            study.enqueue_trial(queue[0].trial_params(), skip_if_exists=True)
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
        device = self._devices.get(framework) or self.recommendation.device_for(framework)
        trial.set_user_attr("family", config.family)
        trial.set_user_attr("config", config.params)
        trial.set_user_attr("device", device)
        if self.settings.storage is not None:  # which process ran it, in a shared or resumed study
            trial.set_user_attr("worker", _WORKER_ID)
        self._n_threads = self._cores.threads()
        deadline = min(self._trial_deadline(), time.monotonic() + self._trial_cap())

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} (intermediate value {value:.4g})")

        try:
            folds = self._fit_folds(adapter.build(
                config, self.spec, device=device, seed=self.settings.seed, n_jobs=self._n_threads
            ), deadline, report)
        except Exception as e:
            if device == "cpu" or not _is_gpu_error(e):
                raise
            # A GPU error (out of memory, a driver or CUDA fault): this framework goes on on the CPU.
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
            msg = f"{adapter.display_name} failed on {device} ({reason}): its trials run on the CPU from now on"
            logger.warning(msg)
            self.messages.append(msg)
            self._devices[framework] = "cpu"
            trial.set_user_attr("device", "cpu")
            trial.set_user_attr("gpu_fallback", reason)
            folds = self._fit_folds(adapter.build(
                config, self.spec, device="cpu", seed=self.settings.seed, n_jobs=self._n_threads
            ), deadline, report)
        value, first_model, first_seconds = folds.value, folds.first_model, folds.first_seconds
        trial.set_user_attr("fit_seconds", round(folds.elapsed, 4))
        trial.set_user_attr("folds", len(folds.scores))
        trial.set_user_attr("truncated", folds.truncated)
        trial.set_user_attr("fold_seconds", round(first_seconds, 4))
        oof = folds.oof
        complete = len(oof) == self.resampling.n_splits and all(p is not None for p in oof)
        if self._keep_oof and complete and not folds.truncated:
            self._remember_oof(
                trial.number, value, np.concatenate(oof), first_seconds,  # type: ignore[arg-type]
                f"{framework}/{config.family}",
            )
        if value > self._best_value:
            self._best_value, self._best_number = value, trial.number
            self._best_model, self._model_number = first_model, trial.number
            self._best_fold_seconds = first_seconds
        return value

    def _fit_folds(self, estimator: Any, deadline: float, report: Any) -> Any:
        """The trial's fold loop: here, or in the trial process when trials are isolated."""
        if self.settings.isolation == "process":
            from automl.search._isolation import IsolationError, TrialProcess

            try:
                if self._trial_process is None:
                    import psutil

                    limit = self.settings.memory_limit_mb or 0.8 * psutil.virtual_memory().available / 2**20
                    self._trial_process = TrialProcess(
                        self.X, self.y, self.resampling.splits, self.scorer, classes=self._classes,
                        keep_oof=self._keep_oof, metric_name=self.metric.name, memory_limit_mb=limit,
                    )
                return self._trial_process.run(
                    estimator, deadline=deadline, report=report, n_threads=self._n_threads,
                    keep_model=lambda r: r.value > self._best_value,
                )
            except IsolationError as e:
                msg = f"trials cannot run in a child process here ({e}): they run in this process from now on"
                logger.warning(msg)
                self.messages.append(msg)
                self.settings.isolation = "none"
        return fit_folds(
            estimator, self.X, self.y, self.resampling.splits, self.scorer, deadline=deadline, report=report,
            n_threads=self._n_threads, classes=self._classes, keep_oof=self._keep_oof, metric_name=self.metric.name,
        )

    def _remember_oof(self, number: int, value: float, pred: np.ndarray, fold_seconds: float, model: str) -> None:
        """Keep a trial's out-of-fold predictions if it is among the best of its model and of all."""
        self._oof[number] = OutOfFold(value, pred, fold_seconds, model)
        same = [n for n, e in self._oof.items() if e.model == model]
        if len(same) > ENSEMBLE_PER_MODEL:
            del self._oof[min(same, key=lambda n: self._oof[n].value)]
        if len(self._oof) > ENSEMBLE_CANDIDATES:
            del self._oof[min(self._oof, key=lambda n: self._oof[n].value)]

    def run(self) -> SearchOutcome:
        previous = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own log lines say more
        try:
            outcome = self._run()
            outcome.messages[:0] = self.messages
            return outcome
        finally:
            if self._trial_process is not None:
                self._trial_process.close()
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
        with _study.quiet_optuna_warnings(), self._interrupts:
            study = self._make_study()
            if not self.settings.worker:
                self._enqueue_defaults(study)
            interrupted = self._loop(study)
            self.progress.close()  # the refit's log lines come after the bar
            self._record_used(study, force=True)
            if self.settings.worker:
                return SearchOutcome(study, None, None, None, "none", interrupted, worker_summary=self._mine)
            if self.settings.storage is not None:
                study.set_user_attr(_study.STATE_ATTR, "finished")  # workers stop
            return self._finish(study, interrupted)

    def _should_stop(self, study: optuna.Study) -> bool:
        if self._interrupts.count:
            return True
        if self.settings.n_trials is not None and self._done(study) >= self.settings.n_trials:
            return True
        if self._trial_deadline() - time.monotonic() < MIN_TRIAL_SECONDS:
            return True
        if self.settings.worker and study.user_attrs.get(_study.STATE_ATTR) == "finished":
            logger.info("the study's main process finished the search: this worker stops")
            return True
        if all(self._too_late_to_load(f) for f in self.frameworks):
            # Otherwise every trial is pruned at once, in a tight loop, until the deadline.
            logger.info("too little time left to load %s: stopping the search", " or ".join(self.frameworks))
            return True
        return False

    def _loop(self, study: optuna.Study) -> bool:
        """Run trials until the budget, ``n_trials`` or Ctrl-C stops the search; True if interrupted."""
        while not self._should_stop(study):
            _study.fail_stale_trials(study)  # a dead worker's trial is failed and queued again
            if self._others_finish_the_count(study):
                time.sleep(WAIT_SECONDS)  # until they finish, or their heartbeat stops and the trial is retried
                continue
            self._next_framework(study)
            trial = study.ask()
            trial_started = time.monotonic()
            value = None
            state = optuna.trial.TrialState.FAIL
            try:
                with _study.heartbeat(study, trial), self._interrupts.arm():
                    value = self._objective(trial)
            except optuna.TrialPruned as e:
                trial.set_user_attr("failure", str(e) or "pruned")
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                state = optuna.trial.TrialState.PRUNED
            except KeyboardInterrupt:
                trial.set_user_attr("failure", "interrupted by the user (Ctrl-C)")
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                if self._interrupts.aborted:
                    raise
                _study.retry_trial(study, trial._trial_id)  # run again when the search is resumed
                self._interrupts.count = max(self._interrupts.count, 1)
                return True
            except Exception as e:  # a failed trial is recorded and the search goes on
                reason = f"{type(e).__name__}: {e}"
                trial.set_user_attr("failure", reason[:500])
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                logger.warning("trial %d failed: %s", trial.number, reason)
            else:
                study.tell(trial, value)
                state = optuna.trial.TrialState.COMPLETE
                self._log_trial(study, trial.number, value)
            finally:
                if self._allocator is not None:
                    fw = str(trial.params.get("framework", ""))
                    self._allocator.observe(fw, time.monotonic() - trial_started, value)
            self._mine[state.name] = self._mine.get(state.name, 0) + 1
            self._record_used(study)
            best = self._best_trial(study)
            self.progress.trial_finished(
                None if best is None else self.metric.display(best.value),  # type: ignore[arg-type]
                None if best is None else f"{best.params.get('framework')}/{best.user_attrs.get('family')}",
            )
        return bool(self._interrupts.count)

    def _others_finish_the_count(self, study: optuna.Study) -> bool:
        """With ``n_trials`` in a shared study: the trials other processes are running complete the count."""
        if self.settings.n_trials is None or self.settings.storage is None:
            return False
        running = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))
        return running > 0 and self._done(study) + running >= self.settings.n_trials

    def _record_used(self, study: optuna.Study, force: bool = False) -> None:
        """Seconds searched so far (all sessions), kept in a persistent study for resume's budget."""
        if self.settings.storage is None or self.settings.worker:
            return
        used = self._used_before + time.monotonic() - self.settings.started
        if force or used - self._used_saved >= USED_EVERY_SECONDS:
            study.set_user_attr(_study.USED_ATTR, round(used, 2))
            self._used_saved = used

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
        best = self._best_trial(study)
        if best is None:
            return SearchOutcome(study, None, None, None, "none", interrupted)
        config = self._config(best)
        own = None if self._model_number is None else study.trials[self._model_number]
        if best.number != self._model_number:
            # The best trial ran in an earlier session or another worker: its model is not in memory.
            self._best_fold_seconds = float(best.user_attrs.get("fold_seconds", 0.0))
            self._best_number = best.number
        model = self._best_model if own is not None and own.number == best.number else None
        left = self.settings.deadline - FINISH_SECONDS - time.monotonic()
        needed = self._refit_estimate()
        if model is None and own is not None and (interrupted or needed > left):
            # No time (or Ctrl-C) for refitting the best trial: this process's best model it is.
            reason = "interrupted" if interrupted else f"refitting trial {best.number} needs ~{needed:.1f}s"
            msg = f"kept this session's best model (trial {own.number}): {reason}"
            self.messages.append(msg)
            return SearchOutcome(study, own, self._best_model, self._config(own), "skipped: " + msg, interrupted)
        if model is not None and interrupted:
            return SearchOutcome(study, best, model, config, "skipped: interrupted", interrupted)
        X_fit, y_fit = self.X, self.y
        if model is not None and needed > left:  # no time for all rows: the most rows that fit, or the trial's model
            sample = self._refit_sample(left, needed)
            if sample is None:
                msg = (
                    f"kept the best trial's model fitted on {1 / self._refit_factor:.0%} of the rows: "
                    f"a refit on all rows needs ~{needed:.1f}s, {max(left, 0):.1f}s were left"
                )
                logger.info(msg)
                return SearchOutcome(study, best, model, config, "skipped: " + msg, interrupted)
            X_fit, y_fit = self.X.iloc[sample], self.y.iloc[sample]
        if model is None and needed > left:
            self.messages.append(
                f"the best trial ({best.number}) ran in an earlier session or another process: refitting it "
                f"needs ~{needed:.1f}s with {max(left, 0):.1f}s left, so the budget is exceeded"
            )
            left = needed * 2 + 1
        adapter = self.adapters[config.framework]
        self._n_threads = self._cores.threads()
        estimator = adapter.build(
            config, self.spec, device=best.user_attrs.get("device", "cpu"),
            seed=self.settings.seed, n_jobs=self._n_threads,
        )
        started = time.monotonic()
        try:
            with self._interrupts.arm(), fit_budget(started + left), self._threads():
                estimator.fit(X_fit, y_fit)
        except KeyboardInterrupt:
            if self._interrupts.aborted or model is None:
                raise
            return SearchOutcome(study, best, model, config, "skipped: interrupted during the refit", True)
        except Exception as e:
            if model is None:
                raise
            logger.warning("refit on all rows failed (%s: %s); keeping the trial's model", type(e).__name__, e)
            return SearchOutcome(study, best, model, config, f"failed: {type(e).__name__}: {e}", interrupted)
        if getattr(estimator[-1], "truncated_", False) and model is not None:
            return SearchOutcome(study, best, model, config, "skipped: the refit ran out of time", interrupted)
        took = time.monotonic() - started
        logger.info("refitted %s/%s on %d rows in %.2fs", config.framework, config.family, len(y_fit), took)
        # The predicted seconds stay next to the measured ones: the reserve kept for the refit came from them.
        if len(y_fit) == len(self.y):
            refit = f"refitted on all rows in {took:.1f}s (predicted ~{needed:.1f}s)"
        else:
            refit = (
                f"refitted on {len(y_fit):,} of {len(self.y):,} rows in {took:.1f}s: all rows needed "
                f"~{needed:.1f}s and {left:.1f}s were left"
            )
            self.messages.append(refit)
        outcome = SearchOutcome(study, best, estimator, config, refit, interrupted)
        if self.settings.ensemble and not interrupted and len(y_fit) == len(self.y):
            try:
                with self._interrupts.arm():
                    self._try_ensemble(study, outcome)
            except KeyboardInterrupt:
                if self._interrupts.aborted:
                    raise
                outcome.interrupted = True
                outcome.messages.append("ensemble selection was skipped: interrupted")
        return outcome

    def _refit_sample(self, left: float, needed: float) -> np.ndarray | None:
        """Row positions for a refit that fits in ``left`` seconds when all rows need ``needed``: the
        most rows that fit (a stratified sample for classification), or None when that is under
        twice the rows the trial's model was fitted on (not worth the time)."""
        total = len(self.y)
        rows = int(total * left / (needed * REFIT_SAFETY))
        if rows < 2 * total / self._refit_factor or rows >= total:
            return None
        from sklearn.model_selection import train_test_split

        classes = self.y.value_counts() if self.spec.is_classification else None
        strat = self.y if classes is not None and classes.min() >= 2 and len(classes) <= rows else None
        sample, _ = train_test_split(np.arange(total), train_size=rows, random_state=self.settings.seed, stratify=strat)
        return np.sort(sample)

    @staticmethod
    def _config(trial: optuna.trial.FrozenTrial) -> Config:
        return Config(trial.params["framework"], trial.user_attrs["family"], dict(trial.user_attrs["config"]))

    # -- ensemble -----------------------------------------------------------------------------
    def _try_ensemble(self, study: optuna.Study, outcome: SearchOutcome) -> None:
        """Replace the single best model by a greedy ensemble when it validates better and fits in time."""
        from automl.search._ensemble import WeightedEnsemble, greedy_selection, score_predictions

        if len(self._oof) < 2 or outcome.best_trial is None:
            outcome.refit += "; no ensemble: fewer than 2 trials to combine"
            return
        y_eval = self.y.iloc[self._eval_index]
        preds = {n: e.pred for n, e in self._oof.items()}
        weights, score = greedy_selection(preds, y_eval, self.scorer, self._classes)
        best_value = float(outcome.best_trial.value)  # type: ignore[arg-type]
        # Compare like with like: the ensemble is scored on all out-of-fold rows pooled, the trial's
        # value is a mean over folds (for RMSE the pooled score is never the better of the two).
        best_number = outcome.best_trial.number
        if best_number in preds:
            best_value = score_predictions(self.scorer, preds[best_number], y_eval, self._classes)
        if len(weights) < 2 or score <= best_value:
            logger.info("ensemble selection kept the single best model (ensemble %.5g)", self.metric.display(score))
            outcome.refit += (
                f"; no ensemble: none validated better than the best trial ({self.metric.display_name} "
                f"{self.metric.display(best_value):.5g})"
            )
            return
        trials = {n: study.trials[n] for n in weights}
        # The best trial's model is already refitted on all rows: only the other members cost time.
        # (Counting it too once dropped a better ensemble on california_houses at 300 s: ~6.6 s
        # "needed" with 6.1 s left, of which the best model's ~3.3 s was already spent.)
        needed = sum(
            t.user_attrs.get("fold_seconds", 0.0) for n, t in trials.items() if n != outcome.best_trial.number
        ) * self._refit_factor
        left = self.settings.deadline - FINISH_SECONDS - time.monotonic()
        if needed > left:
            outcome.refit += (
                f"; no ensemble: one of {len(weights)} trials validated better ({self.metric.display(score):.5g}) "
                f"but refitting its other members needed ~{needed:.1f}s and {max(left, 0):.1f}s were left"
            )
            return
        members = []
        started = time.monotonic()
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
                outcome.refit += f"; no ensemble: member trial {n} failed to refit ({type(e).__name__})"
                return
            if getattr(est[-1], "truncated_", False):
                outcome.refit += "; no ensemble: its refit ran out of time"
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
        outcome.refit = (
            f"ensemble of {len(members)} trials refitted on all rows in {time.monotonic() - started:.1f}s "
            f"(predicted ~{needed:.1f}s)"
        )
        logger.info(
            "ensemble of %d trials: %s=%.5g (best single %.5g)", len(members), self.metric.display_name,
            self.metric.display(score), self.metric.display(best_value),
        )
