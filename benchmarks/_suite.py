"""The split convention and the metrics every system is scored by.

Imported by the benchmark driver and by the runner inside each system's own virtual environment,
so it needs only numpy, pandas and scikit-learn (never this project's package).

Convention: rows with a missing target dropped, one 75/25 split with ``random_state=0``,
stratified for classification (``split=N`` draws another 75/25 split, to measure how much one
small test set decides). Metrics: ROC AUC (binary), log loss and accuracy (multiclass; also
for binary), RMSE and R2 (regression). The main metric, used for normalised scores, is AUC for
binary, log loss for multiclass and RMSE for regression.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: The metric each task is compared on, and whether higher is better.
MAIN_METRIC = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}
HIGHER_IS_BETTER = {"auc": True, "accuracy": True, "r2": True, "logloss": False, "rmse": False}


def read_manifest(suite: Path) -> list[dict[str, Any]]:
    path = Path(suite) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: a suite is a folder with a manifest.json (see ../shared/datasets)")
    return json.loads(path.read_text())


def load_split(entry: dict[str, Any], suite: Path, split: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) under the convention above; ``split`` is the 75/25 split's random state."""
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(Path(suite) / entry["file"])
    df = df[df[entry["target"]].notna()].reset_index(drop=True)
    stratify = df[entry["target"]] if entry["task"] != "regression" else None
    train, test = train_test_split(df, test_size=0.25, random_state=split, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def split_name(dataset: str, split: int) -> str:
    """How a dataset on another outer split is named in results: ``hitters@split1`` (split 0: ``hitters``),
    so that every split is normalised against its own constant predictor and best system."""
    return dataset if split == 0 else f"{dataset}@split{split}"


def parse_split_name(name: str) -> tuple[str, int]:
    """(dataset, split) of a name :func:`split_name` wrote."""
    dataset, _, split = name.partition("@split")
    return dataset, int(split or 0)


def score(task: str, y_true: pd.Series, pred: np.ndarray | None, proba: np.ndarray | None,
          classes: list[Any] | None) -> dict[str, float]:
    """Holdout metrics from predictions (regression) or class probabilities in ``classes`` order."""
    from sklearn import metrics

    if task == "regression":
        pred = np.asarray(pred, dtype=float)
        return {
            "rmse": float(math.sqrt(metrics.mean_squared_error(y_true, pred))),
            "r2": float(metrics.r2_score(y_true, pred)),
        }
    proba = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    labels = list(classes)  # type: ignore[arg-type]
    # Labels are compared as text (systems return 1, "1" or np.int64(1)), then as column positions:
    # log_loss sorts its labels, and as text "10" sorts before "2".
    names = [str(c) for c in labels]
    position = {name: i for i, name in enumerate(names)}
    y = np.array([position[v] for v in np.asarray(y_true).astype(str)])
    out = {
        "accuracy": float(metrics.accuracy_score(y, proba.argmax(1))),
        "logloss": float(metrics.log_loss(y, proba, labels=list(range(len(names))))),
    }
    if task == "binary":
        out["auc"] = float(metrics.roc_auc_score(y == 1, proba[:, 1]))
    return out


def constant_scores(task: str, train: pd.DataFrame, test: pd.DataFrame, target: str) -> dict[str, float]:
    """The scores of a constant predictor: the training prior (classes) or mean (regression)."""
    if task == "regression":
        pred = np.full(len(test), float(train[target].mean()))
        return score(task, test[target], pred, None, None)
    prior = train[target].astype(str).value_counts(normalize=True)
    classes = sorted(prior.index)
    proba = np.tile([prior[c] for c in classes], (len(test), 1))
    return score(task, test[target].astype(str), None, proba, classes)


def outside_training_range(train: pd.DataFrame, test: pd.DataFrame, target: str) -> int:
    """How many test rows have a target outside the training rows' range: a tree's prediction cannot
    reach them (it averages training targets), a linear model's or a network's can. On a small test
    set a few such rows can decide which system scores best."""
    y = train[target].astype(float)
    t = test[target].astype(float)
    return int(((t < y.min()) | (t > y.max())).sum())


def normalised(value: float, constant: float, best: float) -> float:
    """``(s - s_constant) / (s_best - s_constant)``: 0 for the constant predictor, 1 for the best system."""
    if not (math.isfinite(value) and math.isfinite(constant) and math.isfinite(best)) or best == constant:
        return float("nan")
    return (value - constant) / (best - constant)
