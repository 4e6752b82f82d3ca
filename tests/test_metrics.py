"""Metric resolution: defaults, aliases, scikit-learn names, task fit."""

import pytest

from automl.errors import InputError
from automl.metrics import Metric, resolve_metric


@pytest.mark.parametrize(
    "task, name", [("binary", "roc_auc"), ("multiclass", "neg_log_loss"), ("regression", "neg_root_mean_squared_error")]
)
def test_defaults(task: str, name: str) -> None:
    assert resolve_metric(None, task).name == name


@pytest.mark.parametrize(
    "alias, task, name",
    [("auc", "binary", "roc_auc"), ("rmse", "regression", "neg_root_mean_squared_error"),
     ("logloss", "multiclass", "neg_log_loss"), ("f1_macro", "multiclass", "f1_macro"),
     ("r2", "regression", "r2"), ("balanced_accuracy", "binary", "balanced_accuracy")],
)
def test_aliases_and_sklearn_names(alias: str, task: str, name: str) -> None:
    assert resolve_metric(alias, task).name == name


def test_binary_only_metric_rejected_for_multiclass() -> None:
    with pytest.raises(InputError, match="for: binary"):
        resolve_metric("roc_auc", "multiclass")


def test_clustering_metric_rejected() -> None:
    with pytest.raises(InputError, match="clustering only"):
        resolve_metric("adjusted_rand_score", "binary")


def test_display_turns_losses_positive() -> None:
    m = Metric("neg_root_mean_squared_error")
    assert m.is_loss and m.display_name == "root_mean_squared_error" and m.display(-3.0) == 3.0
    assert Metric("roc_auc").display(0.9) == 0.9
