"""The study a search runs: created or continued, checked to hold the same search, and read back.

A new study gets TPE over the frameworks' spaces, a pruner per framework and the run's spec; a
study continued by another call (resume, a shared storage, a worker) must hold the same search,
and what its finished trials already tell (best trial, costs, seconds used) is learned first.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import optuna

from automl.errors import InputError
from automl.search import _study
from automl.search._best import BestSoFar
from automl.search._pruning import PerFrameworkPruner
from automl.search._scheduler import Scheduler
from automl.search._settings import SearchSettings
from automl.search._spec import RunSpec, read_spec
from search_spaces import FrameworkAdapter

logger = logging.getLogger("automl")

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)


def open_study(
    settings: SearchSettings, adapters: dict[str, FrameworkAdapter], spec: RunSpec | None
) -> optuna.Study:
    """The study: a new one records ``spec``, a continued one must hold the same search."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=settings.seed, multivariate=True, group=True, n_startup_trials=8)
    pruner = PerFrameworkPruner({name: make_pruner(settings.pruner, a) for name, a in adapters.items()})
    study = optuna.create_study(
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        storage=settings.storage,
        study_name=settings.study_name,
        load_if_exists=settings.study_name is not None,
    )
    recorded = study.user_attrs.get(_study.SPEC_ATTR)
    if recorded is None and spec is not None and not settings.worker:
        study.set_user_attr(_study.SPEC_ATTR, spec.to_dict())
    elif recorded is not None and spec is not None:
        check_same_search(study, read_spec(study), spec)
    return study


def check_same_search(study: optuna.Study, recorded: RunSpec, spec: RunSpec) -> None:
    """A study continued by another call must hold the same search: same data, target and space."""
    for what in ("target", "metric", "frameworks"):
        before, now = getattr(recorded, what), getattr(spec, what)
        if before != now:
            raise InputError(
                f"study {study.study_name!r} already holds a search with {what} {_shown(before)!r}, "
                f"not {_shown(now)!r}; pass another study_name to start a new search"
            )
    if recorded.data.fingerprint != spec.data.fingerprint:
        raise InputError(
            f"study {study.study_name!r} already holds a search on other data; "
            "pass the same data or another study_name"
        )


def _shown(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value  # frameworks read as the list that was passed


def learn_from(study: optuna.Study, best: BestSoFar, scheduler: Scheduler) -> float:
    """What a study continued from earlier sessions or other workers already knows; returns the
    seconds it was searched before."""
    used = float(study.user_attrs.get(_study.USED_ATTR, 0.0))
    for t in study.get_trials(deepcopy=False, states=FINISHED):
        framework = str(t.params.get("framework", ""))
        value = t.value if t.state == optuna.trial.TrialState.COMPLETE else None
        scheduler.observe(framework, float(t.user_attrs.get("fit_seconds", 0.0)), value)
        if value is not None and value > best.value:
            seconds = float(t.user_attrs.get("fold_seconds", 0.0))
            best.known(float(value), t.number, seconds, bool(t.user_attrs.get("cut", False)))
    done = count_done(study)
    if done:
        logger.info("the study holds %d finished trial(s) from earlier: continuing it", done)
    return used


def count_done(study: optuna.Study) -> int:
    """Finished trials, not counting failures that were queued again (interrupted or killed)."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.system_attrs["failed_trial"] for t in trials if "failed_trial" in t.system_attrs}
    return sum(
        1 for t in trials
        if t.state in FINISHED
        and not (t.state == optuna.trial.TrialState.FAIL and t.number in retried)
    )


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no trial completed yet
        return None


def make_pruner(kind: str, adapter: FrameworkAdapter) -> optuna.pruners.BasePruner:
    """Optuna's pruner for one framework's trials; steps are its boosting rounds or epochs."""
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
