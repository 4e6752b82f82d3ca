"""One Optuna study across frameworks, model families and hyper-parameters, inside a time budget.

The study's first choice is the framework among the recommended candidates, then the family,
then its hyper-parameters (names scoped ``framework.family.param``). :class:`Search` wires the
parts together, each owning its own state: the time plan (deadlines and the refit's reserve), the
scheduler (queued configurations, the next framework), the trial runner, the trial loop and the
refit with ensemble selection; the best trial and the ensemble candidates are records they share.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd

from automl._progress import Progress
from automl.metrics import Metric
from automl.search import _study
from automl.search._bagging import plan_bagging
from automl.search._best import BestSoFar, Candidates, bag_memory_limit
from automl.search._cores import CoreBudget
from automl.search._interrupts import Interrupts
from automl.search._loop import TrialLoop
from automl.search._noise import record_holdout_noise
from automl.search._refit import Refitter
from automl.search._resampling import Resampling
from automl.search._scheduler import Scheduler
from automl.search._settings import SearchOutcome, SearchSettings
from automl.search._study_setup import learn_from, open_study
from automl.search._time_plan import TimePlan, subsample
from automl.search._trials import TrialRunner
from recommender import Recommendation
from search_spaces import FeatureSpec, FrameworkAdapter, get_adapter


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
        self.recommendation, self.metric, self.settings = recommendation, metric, settings
        self.messages: list[str] = []
        #: The run's spec as the study records it (with the decision on subsampling rows).
        self.run_spec = settings.spec
        if settings.bagging:
            resampling, self.run_spec = plan_bagging(
                resampling, y, recommendation, settings, self.run_spec, self.messages
            )
        if settings.subsample and not resampling.bagged:
            resampling, self.run_spec = subsample(resampling, y, recommendation, settings, self.run_spec, self.messages)
        self.resampling = resampling
        self.frameworks = list(settings.frameworks or recommendation.frameworks)
        given = adapters or {}
        self.adapters = {f: given.get(f) or get_adapter(f) for f in self.frameworks}
        self.best = BestSoFar()
        limit = bag_memory_limit(settings.memory_limit_mb) if resampling.kept_folds else math.inf
        self.candidates = Candidates(bag_limit=limit)
        refit_factor = len(X) / len(resampling.splits[0][0])
        self.plan = TimePlan(settings, refit_factor, self.best, self.candidates, bagged=resampling.bagged)
        self.progress = Progress(settings.time_budget, settings.started, settings.verbosity, metric.display_name)
        self.scheduler = Scheduler(self.frameworks, self.adapters, recommendation, settings, self.plan)
        self.interrupts = Interrupts()
        cores = CoreBudget(settings.n_jobs, messages=self.messages)
        cores.threads()  # the first measurement of the cores other processes keep busy
        classes = np.unique(y) if spec.is_classification else None
        self.trials = TrialRunner(
            X, y, spec, resampling, metric, recommendation, self.adapters, settings, plan=self.plan, best=self.best,
            candidates=self.candidates, cores=cores, progress=self.progress, classes=classes, messages=self.messages,
        )
        self.refitter = Refitter(
            X, y, spec, metric, self.adapters, settings, plan=self.plan, best=self.best, candidates=self.candidates,
            cores=cores, interrupts=self.interrupts, eval_index=np.concatenate([va for _, va in resampling.splits]),
            classes=classes, messages=self.messages,
        )
        self.plan.select = self.refitter.likely_members

    def run(self) -> SearchOutcome:
        previous = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own log lines say more
        try:
            outcome = self._run()
            outcome.messages[:0] = self.messages
            outcome.validation = self.resampling.describe()
            return outcome
        finally:
            self.trials.close()
            self.progress.close()
            optuna.logging.set_verbosity(previous)

    def _run(self) -> SearchOutcome:
        with _study.quiet_optuna_warnings(), self.interrupts:
            study = open_study(self.settings, self.adapters, self.run_spec)
            used_before = learn_from(study, self.best, self.scheduler) if study.trials else 0.0
            if not self.settings.worker:
                self.scheduler.enqueue_defaults(study, self.spec)
            loop = TrialLoop(
                self.settings, self.metric, self.adapters, plan=self.plan, scheduler=self.scheduler,
                runner=self.trials, interrupts=self.interrupts, progress=self.progress, used_before=used_before,
            )
            interrupted = loop.run(study)
            self.progress.close()  # the refit's log lines come after the bar
            loop.record_used(study, force=True)
            if not self.settings.worker:  # the validation noise of a holdout (k folds have theirs per trial)
                record_holdout_noise(study, self.candidates, self.y, self.resampling, self.metric,
                                     self.trials.classes, self.settings.time_budget)
            if self.settings.worker:
                return SearchOutcome(study, None, None, None, "none", interrupted, worker_summary=loop.mine)
            if self.settings.storage is not None:
                study.set_user_attr(_study.STATE_ATTR, "finished")  # workers stop
            return self.refitter.finish(study, interrupted)
