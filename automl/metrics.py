"""Metric resolution: defaults per task, friendly aliases, any scikit-learn scorer name.

Scores follow scikit-learn's convention: greater is better, so losses appear negated
(``neg_log_loss``); :meth:`Metric.display` turns a score back into the loss users know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automl.errors import InputError
from search_spaces import Task

DEFAULT_METRICS: dict[str, str] = {
    "binary": "roc_auc",
    "multiclass": "neg_log_loss",
    "regression": "neg_root_mean_squared_error",
}
ALIASES = {
    "auc": "roc_auc",
    "logloss": "neg_log_loss",
    "log_loss": "neg_log_loss",
    "rmse": "neg_root_mean_squared_error",
    "mse": "neg_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "acc": "accuracy",
}
#: Classification scorers that need exactly two classes (their multiclass forms carry a suffix).
BINARY_ONLY = {"roc_auc", "average_precision", "f1", "precision", "recall", "jaccard", "neg_brier_score"}
_CLASSIFICATION_PREFIXES = (
    "accuracy", "balanced_accuracy", "top_k_accuracy", "average_precision", "neg_brier_score",
    "f1", "precision", "recall", "jaccard", "roc_auc", "neg_log_loss", "matthews_corrcoef",
    "d2_log_loss", "d2_brier",
)
_REGRESSION_PREFIXES = (
    "neg_mean", "neg_root_mean", "neg_median", "r2", "explained_variance", "max_error",
    "neg_max_error", "d2_absolute_error", "d2_pinball", "d2_tweedie",
)


@dataclass(frozen=True)
class Metric:
    """A resolved metric: the scorer name and how to show its value."""

    name: str

    @property
    def is_loss(self) -> bool:
        return self.name.startswith("neg_")

    @property
    def display_name(self) -> str:
        return self.name[4:] if self.is_loss else self.name

    def display(self, score: float) -> float:
        """The value users expect to read: a loss as a positive number, other scores unchanged."""
        return -score if self.is_loss else score

    def scorer(self, classes: Any = None) -> Any:
        """scikit-learn's scorer; with the task's ``classes``, log loss scores a validation set that
        lacks a rare class (a 2-row class can fall wholly on the training side of a holdout)."""
        from sklearn.metrics import get_scorer, log_loss, make_scorer

        if self.name == "neg_log_loss" and classes is not None:
            return make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=list(classes))
        return get_scorer(self.name)


def _tasks_for(name: str) -> set[str]:
    if name in BINARY_ONLY:
        return {"binary"}
    if name.startswith(_CLASSIFICATION_PREFIXES):
        return {"binary", "multiclass"}
    if name.startswith(_REGRESSION_PREFIXES):
        return {"regression"}
    return set()


def resolve_metric(metric: str | None, task: Task) -> Metric:
    """The scorer to optimise for ``task``; clear errors for unknown or mismatched names."""
    if metric is None:
        return Metric(DEFAULT_METRICS[task])
    if not isinstance(metric, str):
        raise InputError(f"metric must be a scorer name such as 'roc_auc' or 'rmse', got {metric!r}")
    from sklearn.metrics import get_scorer_names

    name = ALIASES.get(metric.strip().lower(), metric.strip())
    known = set(get_scorer_names())
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, sorted(known | set(ALIASES)), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise InputError(
            f"metric={metric!r} is not a scikit-learn scorer name{hint} "
            "(see sklearn.metrics.get_scorer_names())"
        )
    tasks = _tasks_for(name)
    if task not in tasks:
        fits = ", ".join(sorted(tasks)) or "clustering only"
        raise InputError(
            f"metric={metric!r} does not fit a {task} task (it is for: {fits}); "
            f"use e.g. {DEFAULT_METRICS[task]!r} or leave metric=None for the default"
        )
    return Metric(name)
