"""What the next trial tries: queued configurations first, then a framework by estimated cost.

The queue holds the fast baseline, each candidate's defaults and the warm-start portfolio. Under
cost-aware allocation they are handed out one at a time (within ``QUEUE_SHARE`` of the budget)
and then the allocator fixes each trial's framework, leaving the rest to the sampler; under
``allocation="sampler"`` they are all queued in the study at once and TPE picks the framework.

Under cost-aware allocation, a framework whose evidence is weak (prior under ``QUEUE_PRIOR``: see
:mod:`automl.search._allocation`) and whose trial is not cheap (over ``QUEUE_CHEAP_SHARE`` of the
budget) does not join that queue: its configurations wait until the allocator draws it, and its
trials then start from them. A framework the user named always joins it: asked for, it is tried.
At 60 s on california_houses, Keras and PyTorch defaults queued first took 27 s of the 55 s left
for trials (Keras 19.5 s with its import, torch 7.7 s) and the search ended after 9 trials.
"""

from __future__ import annotations

import math
import time
from typing import Any

import optuna

from automl.search._settings import SearchSettings
from automl.search._time_plan import TimePlan
from recommender import Recommendation
from search_spaces import Config, FeatureSpec, FrameworkAdapter

#: Under cost-aware allocation the queued configurations (defaults, then the portfolio) start only
#: within this share of the budget; after it, the allocator and the sampler take over.
QUEUE_SHARE = 0.25
#: A framework joins the first queue when its prior is at least this ...
QUEUE_PRIOR = 0.5
#: ... or its predicted trial takes at most this share of the budget.
QUEUE_CHEAP_SHARE = 0.05


class Scheduler:
    """Queues the first configurations and, under cost-aware allocation, picks each trial's framework."""

    def __init__(
        self, frameworks: list[str], adapters: dict[str, FrameworkAdapter], recommendation: Recommendation,
        settings: SearchSettings, plan: TimePlan,
    ) -> None:
        self.frameworks = frameworks
        self.adapters = adapters
        self.settings = settings
        self.plan = plan
        self.allocator = self._make_allocator(recommendation)
        self._queue: list[Config] = []
        #: Configurations of frameworks kept out of the first queue, started when the allocator draws them.
        self._deferred: dict[str, list[Config]] = {}

    def _make_allocator(self, recommendation: Recommendation) -> Any:
        if self.settings.allocation == "sampler" or len(self.frameworks) < 2:
            return None
        if self.settings.allocation not in ("cost", "uniform"):
            raise ValueError(f"allocation must be 'cost', 'uniform' or 'sampler', got {self.settings.allocation!r}")
        from automl.search._allocation import CostAwareAllocator, UniformAllocator, priors

        predicted = {c.framework: c.seconds_per_trial for c in recommendation.candidates}
        kind = CostAwareAllocator if self.settings.allocation == "cost" else UniformAllocator
        prior = priors({c.framework: c.top_share for c in recommendation.candidates}, self.frameworks)
        return kind({f: predicted.get(f, 1.0) for f in self.frameworks}, seed=self.settings.seed, prior=prior)

    def _waits(self, framework: str) -> bool:
        """Whether a framework's configurations wait for the allocator instead of the first queue."""
        if self.allocator is None or self.settings.allocation != "cost" or framework in self.settings.named:
            return False
        cheap = self.allocator.arms[framework].predicted <= QUEUE_CHEAP_SHARE * self.settings.time_budget
        return not cheap and self.allocator.prior[framework] < QUEUE_PRIOR

    def observe(self, framework: str, seconds: float, value: float | None) -> None:
        """A finished trial's cost and value (None when it failed or was pruned)."""
        if self.allocator is not None:
            self.allocator.observe(framework, seconds, value)

    def _baseline(self, order: list[Config]) -> Config:
        """The first configuration of a family its adapter names as the fast baseline, else the first."""
        return next((c for c in order if self.adapters[c.framework].baseline_family == c.family), order[0])

    def enqueue_defaults(self, study: optuna.Study, spec: FeatureSpec) -> None:
        """The fast baseline, each candidate's defaults, then the warm-start portfolio; then the sampler."""
        per_framework = [self.adapters[f].default_configs(spec) for f in self.frameworks]
        order: list[Config] = []
        for r in range(max(len(c) for c in per_framework)):
            order.extend(c[r] for c in per_framework if r < len(c))
        baseline = self._baseline(order)
        order.remove(baseline)
        if self.allocator is not None and self.settings.allocation == "cost":  # cheapest frameworks' defaults first
            cost = {f: a.cost for f, a in self.allocator.arms.items()}
            order.sort(key=lambda c: cost.get(c.framework, math.inf))
        if self.settings.portfolio:
            from search_spaces._portfolio import portfolio_configs

            # Mined as what to add after the defaults (benchmarks/portfolio.py), so queued after them.
            order += [c for c in portfolio_configs(spec, self.frameworks) if c != baseline and c not in order]
        queue = [baseline, *order][: self.settings.n_trials]
        if study.trials:  # a continued study: configurations already tried are not queued again
            tried = [t.params for t in study.trials]
            queue = [c for c in queue if c.trial_params() not in tried]
            if not queue:
                return
        if self.allocator is not None:
            # Handed out one at a time by next_framework, within QUEUE_SHARE of the budget; a framework
            # that waits gets its configurations when the allocator draws it.
            study.enqueue_trial(queue[0].trial_params(), skip_if_exists=True)
            self._queue = [c for c in queue[1:] if not self._waits(c.framework)]
            for c in queue[1:]:
                if self._waits(c.framework):
                    self._deferred.setdefault(c.framework, []).append(c)
            return
        for config in queue:
            study.enqueue_trial(config.trial_params(), skip_if_exists=True)

    def next_framework(self, study: optuna.Study) -> None:
        """Under cost-aware allocation, fix the next trial's framework (unless one is queued)."""
        if self.allocator is None or study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
            return
        left = self.plan.trial_seconds_left()
        if time.monotonic() - self.settings.started > QUEUE_SHARE * self.settings.time_budget:
            self._queue = []
        while self._queue:
            config = self._queue.pop(0)
            if self.allocator.arms[config.framework].cost <= left:
                study.enqueue_trial(config.trial_params(), skip_if_exists=True)
                return
        # A framework not loaded yet whose import would eat the time left is not drawn: its trial would
        # be pruned at once, and the next draw could pick it again (mfeat_factors at 60 s: 1,296 such
        # Keras trials in the last seconds, when it was the cheapest and nothing else fitted).
        loadable = [f for f in self.allocator.arms if not self.plan.too_late_to_load(self.adapters[f])]
        framework = self.allocator.choose(left, allowed=loadable)
        waiting = self._deferred.get(framework)
        study.enqueue_trial(waiting.pop(0).trial_params() if waiting else {"framework": framework})
