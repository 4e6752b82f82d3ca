"""Pruning that compares a trial only with trials of the same framework.

Intermediate values are validation losses after a number of boosting rounds, trees or epochs;
an XGBoost round and a PyTorch epoch are different units of progress, so "worse than the median
at step k" only means something within one framework. The wrapper hands Optuna's own pruner a
view of the study that holds just the trials of the current trial's framework.
"""

from __future__ import annotations

from typing import Any

import optuna


class _FrameworkView:
    """The study as a pruner sees it, restricted to one framework's trials."""

    def __init__(self, study: optuna.Study, framework: Any) -> None:
        self._study = study
        self._framework = framework

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[optuna.trial.FrozenTrial]:
        trials = self._study.get_trials(deepcopy=deepcopy, states=states)
        return [t for t in trials if t.params.get("framework") == self._framework]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


class PerFrameworkPruner(optuna.pruners.BasePruner):
    """Delegates to an Optuna pruner over the trials of the same framework only.

    ``inner`` is one pruner for every framework, or a mapping from framework name to pruner
    (their warm-up differs: 100 boosting rounds are early, 10 epochs are not) with ``default``
    for the rest.
    """

    def __init__(
        self,
        inner: optuna.pruners.BasePruner | dict[str, optuna.pruners.BasePruner],
        default: optuna.pruners.BasePruner | None = None,
    ) -> None:
        self.inner = inner
        self.default = default or optuna.pruners.NopPruner()

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        framework = trial.params.get("framework")
        pruner = self.inner if isinstance(self.inner, optuna.pruners.BasePruner) else self.inner.get(
            str(framework), self.default
        )
        return bool(pruner.prune(_FrameworkView(study, framework), trial))  # type: ignore[arg-type]
