"""scikit-learn estimators around ``automl.fit``, for pipelines, cross-validation and grid tools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from automl.api import fit
from automl.result import AutoMLResult

TARGET = "__automl_target__"


def _frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


class _AutoMLEstimator(BaseEstimator):
    _task: str | None = None

    def __init__(
        self,
        time_budget: float = 60,
        n_trials: int | None = None,
        metric: str | None = None,
        frameworks: Sequence[str] | None = None,
        device: str = "auto",
        seed: int = 0,
        n_jobs: int = -1,
    ) -> None:
        self.time_budget = time_budget
        self.n_trials = n_trials
        self.metric = metric
        self.frameworks = frameworks
        self.device = device
        self.seed = seed
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any) -> _AutoMLEstimator:
        frame = _frame(X)
        if TARGET in frame.columns:
            raise ValueError(f"X has a column named {TARGET!r}, which is reserved; rename it")
        data = frame.assign(**{TARGET: np.asarray(y)})
        task = self._task
        if task == "classification":
            task = "binary" if pd.Series(np.asarray(y)).nunique() <= 2 else "multiclass"
        self.result_: AutoMLResult = fit(
            data, TARGET, time_budget=self.time_budget, n_trials=self.n_trials, metric=self.metric,
            frameworks=self.frameworks, task=task, device=self.device, seed=self.seed, n_jobs=self.n_jobs,  # type: ignore[arg-type]
        )
        self.n_features_in_ = frame.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "result_")
        return self.result_.predict(_frame(X)).to_numpy()


class AutoMLClassifier(ClassifierMixin, _AutoMLEstimator):
    """``automl.fit`` as a scikit-learn classifier; the full result is ``result_``."""

    _task = "classification"

    @property
    def classes_(self) -> np.ndarray:
        check_is_fitted(self, "result_")
        return np.asarray(self.result_.classes_)

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "result_")
        return self.result_.predict_proba(_frame(X)).to_numpy()


class AutoMLRegressor(RegressorMixin, _AutoMLEstimator):
    """``automl.fit`` as a scikit-learn regressor; the full result is ``result_``."""

    _task = "regression"
