"""Greedy ensemble selection (Caruana et al., 2004) over the trials' out-of-fold predictions.

Members are picked with replacement, each round adding the trial whose predictions most improve
the ensemble's score under the study's own scikit-learn scorer; the weights are the pick counts.
The ensemble is kept only when it validates better than the best single trial.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    from automl.metrics import Metric


class _PrecomputedClassifier(ClassifierMixin, BaseEstimator):
    """Serves stored probabilities to a scorer; X holds row indices into them."""

    def __init__(self, proba: Any = None, classes: Any = None) -> None:
        self.proba = proba
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    def fit(self, X: Any, y: Any) -> _PrecomputedClassifier:
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.proba[np.asarray(X)[:, 0].astype(int)]

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_is_fitted__(self) -> bool:
        return True


class _PrecomputedRegressor(RegressorMixin, BaseEstimator):
    def __init__(self, pred: Any = None) -> None:
        self.pred = pred

    def fit(self, X: Any, y: Any) -> _PrecomputedRegressor:
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.pred[np.asarray(X)[:, 0].astype(int)]

    def __sklearn_is_fitted__(self) -> bool:
        return True


def score_predictions(scorer: Any, pred: np.ndarray, y: Any, classes: np.ndarray | None) -> float:
    """The scorer's value for stored predictions (probabilities, or values for regression)."""
    index = np.arange(len(pred)).reshape(-1, 1)
    est: Any = _PrecomputedClassifier(pred, classes) if classes is not None else _PrecomputedRegressor(pred)
    return float(scorer(est, index, y))


def encoded_target(y: Any, metric: Metric, classes: np.ndarray | None) -> tuple[Any, Any, np.ndarray | None]:
    """``y``, the scorer and the classes for scoring stored predictions many times: for classification,
    each label's position in ``classes`` (the probability columns' order) with a scorer and classes
    made for those positions. scikit-learn's label checks sort string labels on every call: on adult's
    36,631 out-of-fold rows one ROC AUC took 64 ms with the labels and 9 ms with their positions, and
    ensemble selection at the end of a 60 s search took 6.7 s, past the time promise."""
    if classes is None:
        return y, metric.scorer(None), None
    positions = pd.Index(classes).get_indexer(np.asarray(y))
    if (positions < 0).any():  # a label outside the classes (not expected): score the labels themselves
        return y, metric.scorer(classes), classes
    codes = np.arange(len(classes))
    return positions, metric.scorer(codes), codes


def greedy_selection(
    predictions: dict[int, np.ndarray], y: Any, scorer: Any, classes: np.ndarray | None, rounds: int = 25
) -> tuple[dict[int, float], float]:
    """Trial number -> weight (summing to 1), and the ensemble's out-of-fold score."""
    picks: Counter[int] = Counter()
    total: np.ndarray | None = None
    best_score = -np.inf
    for _ in range(rounds):
        round_best: tuple[float, int] | None = None
        n = sum(picks.values()) + 1
        for number, pred in predictions.items():
            candidate = pred if total is None else (total + pred)
            score = score_predictions(scorer, candidate / n, y, classes)
            if round_best is None or score > round_best[0]:
                round_best = (score, number)
        if round_best is None or (picks and round_best[0] <= best_score):
            break
        best_score, number = round_best
        picks[number] += 1
        total = predictions[number] if total is None else total + predictions[number]
    count = sum(picks.values())
    return {k: v / count for k, v in picks.items()}, float(best_score)


def average_repeats(
    predictions: dict[int, np.ndarray], y: Any, groups: np.ndarray
) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray]:
    """Each row's out-of-fold predictions averaged over the repeats of repeated cross-validation
    (``groups`` names the row each prediction is for), its target, and the rows in that order.

    A trial's final model averages its fold models; one out-of-fold prediction comes from one of them.
    Averaging a row's predictions over the repeats (each from a model that did not see the row) scores a
    trial more like the average it will predict with, as AutoGluon does for repeated bagging."""
    rows, first, row_of = np.unique(np.asarray(groups), return_index=True, return_inverse=True)
    counts = np.bincount(row_of, minlength=len(rows)).astype(np.float64)

    def mean(p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        total = np.zeros((len(rows), *p.shape[1:]))
        np.add.at(total, row_of, p)
        return total / counts.reshape(-1, *([1] * (p.ndim - 1)))

    return {n: mean(p) for n, p in predictions.items()}, np.asarray(y)[first], rows


def bootstrapped_selection(
    predictions: dict[int, np.ndarray], y: Any, scorer: Any, classes: np.ndarray | None, *, groups: np.ndarray,
    samples: int, seed: int, rounds: int = 25,
) -> tuple[dict[int, float], float]:
    """Greedy selection on ``samples`` bootstrap samples of the rows, its weights averaged (trial number ->
    weight, summing to 1), and that ensemble's out-of-fold score on all rows. ``groups`` names the row
    each prediction is for: with repeated cross-validation a row's predictions are drawn together.

    On a few hundred rows the weights one greedy pass fits to the out-of-fold predictions carry their
    noise to new rows; averaging the passes over resamples of the rows steadies them (bagged ensemble
    selection, Caruana et al., 2006)."""
    rng = np.random.default_rng(seed)
    _, row_of = np.unique(np.asarray(groups), return_inverse=True)
    n_rows, positions, y_all = int(row_of.max()) + 1, np.arange(len(row_of)), np.asarray(y)
    labels = len(np.unique(y_all)) if classes is not None else 0
    total: dict[int, float] = {}
    used = 0
    for _ in range(samples):
        drawn = np.bincount(rng.integers(0, n_rows, n_rows), minlength=n_rows)
        rows = np.repeat(positions, drawn[row_of])
        if labels and len(np.unique(y_all[rows])) < labels:
            continue  # a rare class left out: ROC AUC over the classes would not be defined
        picked, _ = greedy_selection({n: p[rows] for n, p in predictions.items()}, y_all[rows], scorer, classes, rounds)
        used += 1
        for n, w in picked.items():
            total[n] = total.get(n, 0.0) + w
    if not used:
        return greedy_selection(predictions, y, scorer, classes, rounds)
    weights = {n: w / used for n, w in sorted(total.items(), key=lambda kv: -kv[1])}
    blend = np.asarray(sum(w * predictions[n] for n, w in weights.items()))
    if classes is not None:  # rows summing to 1 + 2e-16 trip log loss's "y_prob values greater than 1" check
        blend = blend / blend.sum(axis=1, keepdims=True)
    return weights, score_predictions(scorer, blend, y, classes)


class WeightedEnsemble(BaseEstimator):
    """A weighted average of fitted pipelines' probabilities (classification) or values."""

    def __init__(self, members: list[Any] | None = None, weights: list[float] | None = None) -> None:
        self.members = members
        self.weights = weights

    def fit(self, X: Any, y: Any) -> WeightedEnsemble:
        for m in self.members or []:
            m.fit(X, y)
        self.fitted_ = True
        return self

    @property
    def classes_(self) -> np.ndarray:
        return self.members[0].classes_  # type: ignore[index]

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        if self.members and self._is_classifier():
            tags.estimator_type, tags.classifier_tags = "classifier", ClassifierTags()
        else:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        return tags

    def _is_classifier(self) -> bool:
        return hasattr(self.members[0], "predict_proba") and hasattr(self.members[0], "classes_")  # type: ignore[index]

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "fitted_")
        parts = [
            w * np.asarray(m.predict_proba(X), dtype=np.float64)
            for m, w in zip(self.members, self.weights, strict=True)  # type: ignore[arg-type]
        ]
        proba = np.sum(parts, axis=0)
        # Rows sum to 1 in float64, whatever the members' precision (XGBoost and networks: float32).
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "fitted_")
        if self._is_classifier():
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return sum(w * m.predict(X) for m, w in zip(self.members, self.weights, strict=True))  # type: ignore[arg-type,return-value]


def bag(models: list[Any]) -> WeightedEnsemble:
    """A k-fold bag: the fold models, fitted already, averaged with equal weights."""
    ensemble = WeightedEnsemble(members=list(models), weights=[1.0 / len(models)] * len(models))
    ensemble.fitted_ = True
    return ensemble


def flatten(bags: list[WeightedEnsemble], weights: list[float]) -> WeightedEnsemble:
    """A weighted ensemble of bags as one weighted ensemble of their fold models (one level, so that
    saving, loading and ONNX export see plain members)."""
    members, flat = [], []
    for b, w in zip(bags, weights, strict=True):
        members += list(b.members or [])
        flat += [w * m for m in b.weights or []]
    ensemble = WeightedEnsemble(members=members, weights=flat)
    ensemble.fitted_ = True
    return ensemble
