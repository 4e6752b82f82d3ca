"""scikit-learn learners grown in stages, so a trial can stop at its deadline and report progress.

Each wrapper keeps the estimator contract (``__init__`` stores arguments, learned state ends in
``_``) and exposes ``truncated_``: True when the deadline stopped growth before the configured size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.utils.validation import check_is_fitted

from search_spaces._budget import current_budget

_FORESTS = {
    ("rf", True): RandomForestClassifier,
    ("rf", False): RandomForestRegressor,
    ("extra_trees", True): ExtraTreesClassifier,
    ("extra_trees", False): ExtraTreesRegressor,
}


def _affordable(seconds_left: float, elapsed: float, units_done: int) -> int:
    """How many more trees (or boosting iterations) fit in ``seconds_left`` at the pace so far."""
    if math.isinf(seconds_left):
        return 1 << 30
    per_unit = max(elapsed / max(units_done, 1), 1e-6)
    return int(max(seconds_left, 0.0) / per_unit)


def _paced(total: int, first: int, stage: int, budget: Any) -> Iterator[int]:
    """Sizes to grow to: a small first stage measures the pace, then stages the time left affords.

    Stops early (at a size below ``total``) when not even one more unit fits before the deadline.
    """
    done, started = 0, time.monotonic()
    while done < total:
        step = first if not done else min(stage, _affordable(budget.seconds_left(), time.monotonic() - started, done))
        if step < 1:
            return
        done = min(total, done + step)
        yield done


class _Delegating(BaseEstimator):
    #: The framework whose adapter builds this estimator (the ONNX export asks that adapter for a converter).
    framework = "sklearn"
    estimator_: Any

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @property
    def classes_(self) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_


class _StagedForest(_Delegating):
    """Random forest or extra trees grown ``stage`` trees at a time until done or out of time."""

    _classifier = False

    def __init__(
        self,
        kind: str = "rf",
        n_estimators: int = 300,
        max_features: float | str | None = "sqrt",
        min_samples_leaf: int = 1,
        class_weight: str | None = None,
        n_jobs: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.kind = kind
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> _StagedForest:
        budget = current_budget()
        kwargs: dict[str, Any] = dict(
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            warm_start=True,
        )
        if self._classifier and self.class_weight == "balanced":
            # Fixed weights from the whole fold: warm-started growth would otherwise
            # recompute "balanced" weights at every stage.
            from sklearn.utils.class_weight import compute_class_weight

            classes = np.unique(y)
            weights = compute_class_weight("balanced", classes=classes, y=np.asarray(y))
            kwargs["class_weight"] = dict(zip(classes.tolist(), weights.tolist(), strict=True))
        model = _FORESTS[(self.kind, self._classifier)](n_estimators=0, **kwargs)
        grown = 0
        for grown in _paced(self.n_estimators, 8, max(8, math.ceil(self.n_estimators / 8)), budget):
            model.set_params(n_estimators=grown)
            model.fit(X, y)
        self.truncated_ = grown < self.n_estimators
        self.estimator_ = model
        self.n_estimators_ = grown
        self.n_features_in_ = model.n_features_in_
        return self


class StagedForestClassifier(ClassifierMixin, _StagedForest):
    _classifier = True


class StagedForestRegressor(RegressorMixin, _StagedForest):
    _classifier = False


class _StagedHGB(_Delegating):
    """Histogram gradient boosting grown ``stage`` iterations at a time with early stopping.

    After each stage it reports the validation loss as a higher-is-better value (negative log loss
    for classification, negative RMSE for regression), the same scale XGBoost trials report, so a
    pruner compares like with like.
    """

    _classifier = False
    stage = 50

    def __init__(
        self,
        learning_rate: float = 0.1,
        max_iter: int = 500,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        max_features: float = 1.0,
        class_weight: str | None = None,
        categorical_features: Any = None,
        random_state: int | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_features = max_features
        self.class_weight = class_weight
        self.categorical_features = categorical_features
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> _StagedHGB:
        budget = current_budget()
        n = X.shape[0]
        early = n >= 200
        kwargs: dict[str, Any] = dict(
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            max_features=self.max_features,
            categorical_features=self.categorical_features,
            early_stopping=early,
            validation_fraction=0.1 if early else None,
            n_iter_no_change=15,
            scoring="loss",
            warm_start=True,
            random_state=0 if self.random_state is None else self.random_state,
        )
        if self._classifier:
            kwargs["class_weight"] = self.class_weight
        cls = HistGradientBoostingClassifier if self._classifier else HistGradientBoostingRegressor
        model = cls(max_iter=0, **kwargs)
        target = 0
        stopped_early = False
        # Without a validation split to stop on, cap the rounds: small data overfits quickly.
        max_iter = self.max_iter if early else min(self.max_iter, 100)
        # Smaller stages on large data keep the overshoot past a deadline short.
        stage = self.stage if n < 50_000 else max(5, self.stage // 5)
        for target in _paced(max_iter, min(stage, 10), stage, budget):
            model.set_params(max_iter=target)
            model.fit(X, y)
            if early and len(model.validation_score_):
                budget.emit(model.n_iter_, self._report_value(float(model.validation_score_[-1])))
            if model.n_iter_ < target:  # early stopping fired
                stopped_early = True
                break
        self.truncated_ = target < max_iter and not stopped_early
        self.estimator_ = model
        self.n_iter_ = model.n_iter_
        self.n_features_in_ = model.n_features_in_
        return self

    def _report_value(self, score: float) -> float:
        # scoring="loss" records minus the loss: log loss, or half the squared error.
        return score if self._classifier else -math.sqrt(max(-2.0 * score, 0.0))


class StagedHGBClassifier(ClassifierMixin, _StagedHGB):
    _classifier = True


class StagedHGBRegressor(RegressorMixin, _StagedHGB):
    _classifier = False
