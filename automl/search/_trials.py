"""The trial runner: one trial's configuration, fitted on the folds and recorded in the study.

A trial samples its framework and configuration, fits it on every fold before its deadline
(here, or in a child process that is killed at the deadline or memory cap with
``isolation="process"``), reports its steps to the pruner, and leaves its value, its out-of-fold
predictions (an ensemble candidate) and, when it is the best so far, its first fold's model.
A GPU error moves its framework to the CPU for the rest of the search.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automl._progress import Progress
from automl.metrics import Metric
from automl.search._best import MAX_OOF_VALUES, BestSoFar, Candidates
from automl.search._cores import CoreBudget
from automl.search._folds import FoldsResult, fit_folds
from automl.search._resampling import Resampling
from automl.search._settings import SearchSettings
from automl.search._time_plan import TimePlan
from recommender import Recommendation
from search_spaces import Config, FeatureSpec, FrameworkAdapter

logger = logging.getLogger("automl")

#: Words in an error that mark it as the GPU's (CUDA out of memory, a driver fault): the trial is run again on the CPU.
GPU_ERROR_WORDS = ("cuda", "gpu", "cudnn", "cublas", "nccl", "device-side", "out of memory", "resourceexhausted")

_WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def is_gpu_error(error: BaseException) -> bool:
    text = f"{type(error).__name__} {error}".lower()
    return any(word in text for word in GPU_ERROR_WORDS)


class TrialRunner:
    """Runs one trial of the study (``runner(trial)`` returns its value); owns the trial process."""

    def __init__(
        self, X: pd.DataFrame, y: pd.Series, spec: FeatureSpec, resampling: Resampling, metric: Metric,
        recommendation: Recommendation, adapters: dict[str, FrameworkAdapter], settings: SearchSettings, *,
        plan: TimePlan, best: BestSoFar, candidates: Candidates, cores: CoreBudget, progress: Progress,
        classes: np.ndarray | None, messages: list[str],
    ) -> None:
        self.X, self.y, self.spec, self.resampling = X, y, spec, resampling
        self.metric, self.scorer = metric, metric.scorer(classes)
        self.recommendation, self.adapters, self.settings = recommendation, adapters, settings
        self.frameworks = list(adapters)
        self.plan, self.best, self.candidates = plan, best, candidates
        self.cores, self.progress, self.classes, self.messages = cores, progress, classes, messages
        eval_rows = sum(len(va) for _, va in resampling.splits)
        self.keep_oof = eval_rows * (1 if classes is None else len(classes)) <= MAX_OOF_VALUES
        self.isolation = settings.isolation  # "none" from the first time a child process cannot start
        self._devices: dict[str, str] = {}  # frameworks moved to the CPU after a GPU error
        self._trial_process: Any = None  # automl.search._isolation.TrialProcess, with isolation="process"
        self._n_threads = 1
        self._bag_refused = False  # a bag too large to keep was reported in the messages

    def __call__(self, trial: optuna.Trial) -> float:
        framework = str(trial.suggest_categorical("framework", self.frameworks))
        adapter = self.adapters[framework]
        self.progress.trial_started(framework)
        left = self.plan.trial_seconds_left()
        if self.plan.too_late_to_load(adapter):
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
        self._n_threads = self.cores.threads()
        deadline = self.plan.deadline_of_a_trial(self.resampling.n_splits)
        folds = self._fit(trial, framework, config, device, deadline)
        value, first_seconds = folds.value, folds.first_seconds
        trial.set_user_attr("fit_seconds", round(folds.elapsed, 4))
        trial.set_user_attr("folds", len(folds.scores))
        trial.set_user_attr("fold_scores", [float(s) for s in folds.scores])  # the validation noise, per fold
        trial.set_user_attr("truncated", folds.truncated)
        if folds.shortened:  # a network's schedule fitted to its deadline: complete, hence ensembled
            trial.set_user_attr("shortened", True)
        if folds.cut:  # its first fold's fit was stopped by the deadline: no refit would do better in time
            trial.set_user_attr("cut", True)
        trial.set_user_attr("fold_seconds", round(first_seconds, 4))
        oof = folds.oof
        complete = len(oof) == self.resampling.n_splits and all(p is not None for p in oof)
        # A bag's fold models must agree on the classes (a fold's training rows may miss a rare class).
        bagged = bool(folds.models) and (
            self.classes is None or all(list(m.classes_) == list(self.classes) for m in folds.models)
        )
        if bagged:
            from automl.search._ensemble import bag  # scikit-learn: not at `import automl`

        trial_bag = bag(folds.models) if bagged else None
        if folds.bag_refused:
            self._refused_bag(trial.number, f"{framework}/{config.family}", folds.bag_refused,
                              self.resampling.kept_models(self.adapters[framework].network))
        if self.keep_oof and complete and not folds.truncated:
            self.candidates.remember(
                trial.number, value, np.concatenate(oof), first_seconds,  # type: ignore[arg-type]
                f"{framework}/{config.family}", bag=trial_bag, bag_bytes=folds.bag_bytes if bagged else 0,
            )
        # With bagging the trial's model is its bag (the fold models averaged), else the first fold's.
        self.best.offer(value, trial.number, first_seconds, trial_bag if bagged else folds.first_model, folds.cut)
        return value

    def _fit(self, trial: optuna.Trial, framework: str, config: Config, device: str, deadline: float) -> FoldsResult:
        """The configuration fitted on the folds on ``device``; after a GPU error, again on the CPU."""
        adapter = self.adapters[framework]

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} (intermediate value {value:.4g})")

        def build(on: str) -> Any:
            return adapter.build(
                config, self.spec, device=on, seed=self.settings.seed, n_jobs=self._n_threads,  # type: ignore[arg-type]
            )

        try:
            return self._fit_folds(build(device), deadline, report, adapter.network)
        except Exception as e:
            if device == "cpu" or not is_gpu_error(e):
                raise
            # A GPU error (out of memory, a driver or CUDA fault): this framework goes on on the CPU.
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
            msg = f"{adapter.display_name} failed on {device} ({reason}): its trials run on the CPU from now on"
            logger.warning(msg)
            self.messages.append(msg)
            self._devices[framework] = "cpu"
            trial.set_user_attr("device", "cpu")
            trial.set_user_attr("gpu_fallback", reason)
            return self._fit_folds(build("cpu"), deadline, report, adapter.network)

    def _fit_folds(self, estimator: Any, deadline: float, report: Any, network: bool) -> FoldsResult:
        """The trial's fold loop: here, or in the trial process when trials are isolated; a ``network``'s
        bag keeps every repeat's fold models (:meth:`Resampling.kept_models`)."""
        if self.isolation == "process":
            from automl.search._isolation import IsolationError

            try:
                return self._process().run(
                    estimator, deadline=deadline, report=report, n_threads=self._n_threads,
                    keep_model=lambda r: r.value > self.best.value,
                )
            except IsolationError as e:
                msg = f"trials cannot run in a child process here ({e}): they run in this process from now on"
                logger.warning(msg)
                self.messages.append(msg)
                self.isolation = "none"
        return fit_folds(
            estimator, self.X, self.y, self.resampling.splits, self.scorer, deadline=deadline, report=report,
            n_threads=self._n_threads, classes=self.classes, keep_oof=self.keep_oof, metric_name=self.metric.name,
            keep_models=self.resampling.kept_models(network), bag_bytes_limit=self.candidates.one_bag_limit,
        )

    def _refused_bag(self, number: int, model: str, size: int, kept: int) -> None:
        """Say (once per search in the messages, every time in the log) that a bag was too large to keep."""
        msg = (f"trial {number} ({model}): its {kept} fold models would hold ~{_size(size)}, "
               f"more than the {_size(self.candidates.one_bag_limit)} one bag may hold, so they were not kept: "
               "it joins no ensemble of bags, and if it is the best its first fold's model (or a refit, time "
               "allowing) stands in")
        logger.info(msg)
        if not self._bag_refused:
            self._bag_refused = True
            self.messages.append(msg)

    def _process(self) -> Any:
        """The trial process, started with the data on the first isolated trial."""
        if self._trial_process is None:
            import psutil

            from automl.search._isolation import TrialProcess

            limit = self.settings.memory_limit_mb or 0.8 * psutil.virtual_memory().available / 2**20
            self._trial_process = TrialProcess(
                self.X, self.y, self.resampling.splits, self.scorer, classes=self.classes,
                keep_oof=self.keep_oof, metric_name=self.metric.name, memory_limit_mb=limit,
            )
        return self._trial_process

    def close(self) -> None:
        if self._trial_process is not None:
            self._trial_process.close()


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:,.0f} MB"
