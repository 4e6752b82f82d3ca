"""Drive a KerasTuner ``HyperModel`` from an Optuna trial.

:class:`OptunaHyperParameters` is a KerasTuner ``HyperParameters`` container whose values come
from ``trial.suggest_*`` instead of a KerasTuner oracle: ``Int`` -> ``suggest_int``, ``Float`` ->
``suggest_float``, ``Choice`` and ``Boolean`` -> ``suggest_categorical``, ``Fixed`` -> its value.
Conditional scopes keep KerasTuner's semantics: a hyper-parameter whose parent condition is
inactive is not suggested and reads as ``None``. Optuna parameter names are ``prefix.name``.

Every model built through the bridge can read three fixed values: ``hp.get("n_features")``
(width of the preprocessed input), ``hp.get("n_outputs")`` (number of classes, or 1 for
regression) and ``hp.get("task")`` ("binary", "multiclass" or "regression").

    >>> hp = OptunaHyperParameters(trial, prefix="keras.custom")
    >>> model = my_hypermodel.build(hp)
    >>> hp.searched_values()   # {"units": 96, "dropout": 0.2, ...}
"""

from __future__ import annotations

from typing import Any

try:
    import keras_tuner as kt
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the Keras bridge needs keras-tuner: pip install 'automl-recommender[tensorflow]'"
    ) from e

#: Fixed values every HyperModel can read; never searched.
CONTEXT_NAMES = ("n_features", "n_outputs", "task")


class OptunaHyperParameters(kt.HyperParameters):  # type: ignore[misc]
    """KerasTuner hyper-parameters whose values an Optuna trial suggests."""

    def __init__(self, trial: Any, prefix: str = "keras") -> None:
        super().__init__()
        self._trial = trial
        self._prefix = prefix

    def _register(self, hyperparameter: Any, overwrite: bool = False) -> Any:
        value = super()._register(hyperparameter, overwrite)
        if value is None or not self.is_active(hyperparameter):
            return value  # inactive under its conditional scope: not suggested
        value = self._suggest(hyperparameter)
        self.values[hyperparameter.name] = value
        return value

    def _suggest(self, hp: Any) -> Any:
        from keras_tuner.src.engine.hyperparameters import hp_types

        name = f"{self._prefix}.{hp.name}"
        if isinstance(hp, hp_types.Fixed):
            return hp.value
        if isinstance(hp, hp_types.Boolean):
            return bool(self._trial.suggest_categorical(name, [False, True]))
        if isinstance(hp, hp_types.Choice):
            return self._trial.suggest_categorical(name, list(hp.values))
        log = hp.sampling in ("log", "reverse_log")
        if isinstance(hp, hp_types.Int):
            step = 1 if log or not hp.step else int(hp.step)
            return int(self._trial.suggest_int(name, int(hp.min_value), int(hp.max_value), step=step, log=log))
        if isinstance(hp, hp_types.Float):
            step = None if log or not hp.step else float(hp.step)
            return float(self._trial.suggest_float(name, hp.min_value, hp.max_value, step=step, log=log))
        raise TypeError(f"unsupported KerasTuner hyper-parameter type {type(hp).__name__} for {hp.name!r}")

    def searched_values(self) -> dict[str, Any]:
        """The active values the trial chose, without the fixed context values."""
        return {k: v for k, v in self.values.items() if k not in CONTEXT_NAMES}


def fixed_hyperparameters(values: dict[str, Any], **context: Any) -> Any:
    """A plain KerasTuner container that replays ``values`` (for refits and loading)."""
    hp = kt.HyperParameters()
    hp.values.update(values)
    for name, value in context.items():
        hp.Fixed(name, value)
    return hp


def declare_context(hp: Any, n_features: int, n_outputs: int, task: str) -> None:
    hp.Fixed("n_features", int(n_features))
    hp.Fixed("n_outputs", int(n_outputs))
    hp.Fixed("task", str(task))
