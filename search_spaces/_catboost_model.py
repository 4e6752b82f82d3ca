"""CatBoost behind the scikit-learn contract; imported only when a CatBoost estimator is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from search_spaces._base import read_native_meta, save_native_dir
from search_spaces._boosting import MIN_EARLY_STOPPING_ROWS
from search_spaces._budget import current_budget

REPORT_EVERY = 10
INSTALL_HINT = "pip install 'automl-recommender[catboost]'"
#: The code an unknown category (NaN out of the ordinal encoder) gets: CatBoost wants integers.
UNKNOWN_CODE = -1


def _import_catboost() -> Any:
    try:
        import catboost
    except ImportError as e:
        raise ImportError(f"the 'catboost' framework needs the catboost package: {INSTALL_HINT}") from e
    return catboost


class _BudgetCallback:
    """A CatBoost callback that reports the validation loss and stops at the trial's deadline.

    CatBoost turns an exception raised in a callback into a ``CatBoostError``, so the reporter's
    exception (``optuna.TrialPruned``) is kept in ``raised``, training stops, and ``fit`` re-raises it.
    """

    def __init__(self) -> None:
        self._budget = current_budget()
        self.truncated = False
        self.raised: BaseException | None = None

    def after_iteration(self, info: Any) -> bool:
        rounds = info.iteration + 1
        validation = info.metrics.get("validation")
        if validation and rounds % REPORT_EVERY == 0:
            loss = float(next(iter(validation.values()))[-1])
            try:
                self._budget.emit(rounds, -loss)
            except Exception as e:  # re-raised by fit, unchanged
                self.raised = e
                return False
        if self._budget.expired():
            self.truncated = True
            return False
        return True


class _CatBoostModel(BaseEstimator):
    """CatBoost behind the scikit-learn contract, with its own validation split for early stopping.

    ``n_categorical`` leading columns are category codes handed to CatBoost as ``cat_features``
    (ordered target statistics). Training is silent and writes no files. On ``device="cuda"`` it
    trains with ``task_type="GPU"``; CatBoost runs no user callbacks there, so GPU trials report no
    intermediate scores and stop only by early stopping or ``n_estimators``.
    """

    #: The framework whose adapter builds this estimator (the ONNX export asks that adapter for a converter).
    framework = "catboost"
    _classifier = False

    def __init__(
        self,
        n_estimators: int = 2000,
        learning_rate: float = 0.1,
        depth: int = 6,
        l2_leaf_reg: float = 3.0,
        random_strength: float = 1.0,
        bagging_temperature: float = 1.0,
        colsample_bylevel: float = 1.0,
        class_weight: str | None = None,
        n_categorical: int = 0,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.1,
        device: str = "cpu",
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.random_strength = random_strength
        self.bagging_temperature = bagging_temperature
        self.colsample_bylevel = colsample_bylevel
        self.class_weight = class_weight
        self.n_categorical = n_categorical
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _params(self, n_classes: int, rounds: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "iterations": rounds,
            "learning_rate": self.learning_rate,
            "depth": self.depth,
            "l2_leaf_reg": self.l2_leaf_reg,
            "random_strength": self.random_strength,
            "bootstrap_type": "Bayesian",
            "bagging_temperature": self.bagging_temperature,
            "thread_count": self.n_jobs if self.n_jobs > 0 else -1,
            "random_seed": self.random_state,
            "allow_writing_files": False,  # no catboost_info/ in the working directory
            "logging_level": "Silent",
        }
        if self.device == "cuda":
            params.update(task_type="GPU", devices="0")
        else:
            params["rsm"] = self.colsample_bylevel  # per-level feature sampling is CPU-only
        if not self._classifier:
            params["loss_function"] = "RMSE"
        elif n_classes <= 2:
            params["loss_function"] = "Logloss"
        else:
            params.update(loss_function="MultiClass", classes_count=n_classes)
        return params

    def _pool(self, cb: Any, X: Any, y: Any = None, weight: Any = None) -> Any:
        """A Pool with the leading ``n_categorical`` columns as integer categories."""
        import pandas as pd

        X = np.asarray(X, dtype=np.float64)
        k = self.n_categorical
        frame = pd.DataFrame(X[:, k:], columns=[f"f{i}" for i in range(k, X.shape[1])])
        if k:
            codes = np.where(np.isnan(X[:, :k]), UNKNOWN_CODE, X[:, :k]).astype(np.int64)
            cats = pd.DataFrame(codes, columns=[f"f{i}" for i in range(k)])
            frame = pd.concat([cats, frame], axis=1)
        return cb.Pool(frame, label=y, weight=weight, cat_features=list(range(k)) or None)

    def fit(self, X: Any, y: Any) -> _CatBoostModel:
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import LabelEncoder
        from sklearn.utils.class_weight import compute_sample_weight

        cb = _import_catboost()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        n_classes = 0
        if self._classifier:
            self._encoder = LabelEncoder().fit(y)
            y = self._encoder.transform(y)
            n_classes = len(self._encoder.classes_)
        weights = compute_sample_weight("balanced", y) if self._classifier and self.class_weight == "balanced" else None
        use_validation = X.shape[0] >= MIN_EARLY_STOPPING_ROWS and self.validation_fraction > 0
        rounds = self.n_estimators if use_validation else min(self.n_estimators, 200)
        tr = np.arange(X.shape[0])
        fit_kwargs: dict[str, Any] = {}
        if use_validation:
            stratify = y if self._classifier and np.min(np.bincount(y)) >= 2 else None
            tr, va = train_test_split(
                tr, test_size=self.validation_fraction, random_state=self.random_state, stratify=stratify
            )
            fit_kwargs.update(
                eval_set=self._pool(cb, X[va], y[va]), use_best_model=True,
                early_stopping_rounds=self.early_stopping_rounds,
            )
        callback = _BudgetCallback()
        if self.device != "cuda":  # "User defined callbacks are not supported for GPU"
            fit_kwargs["callbacks"] = [callback]
        model_cls = cb.CatBoostClassifier if self._classifier else cb.CatBoostRegressor
        model = model_cls(**self._params(n_classes, rounds))
        train = self._pool(cb, X[tr], y[tr], None if weights is None else weights[tr])
        model.fit(train, **fit_kwargs)
        if callback.raised is not None:
            raise callback.raised
        self.model_ = model
        self.truncated_ = bool(callback.truncated)
        self.best_iteration_ = int(model.tree_count_)
        self.n_features_in_ = X.shape[1]
        return self

    @property
    def classes_(self) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self._encoder.classes_

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        if not self._classifier:
            return np.asarray(self.model_.predict(self._pool(_import_catboost(), X)), dtype=np.float64)
        return self._encoder.inverse_transform(np.argmax(self.predict_proba(X), axis=1))

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        proba = np.asarray(self.model_.predict_proba(self._pool(_import_catboost(), X)), dtype=np.float64)
        # A fit whose training slice lacked a class has fewer columns; put them where the labels say.
        seen = [int(c) for c in self.model_.classes_]
        if len(seen) != len(self._encoder.classes_):
            full = np.zeros((proba.shape[0], len(self._encoder.classes_)))
            full[:, seen] = proba
            proba = full
        return proba

    # -- native persistence -------------------------------------------------------------------
    def save_native(self, directory: str | Path) -> None:
        """Write ``model.cbm`` (CatBoost's binary model) and ``model.json`` (labels, arguments)."""

        def meta() -> dict[str, Any]:
            return {
                "params": self.get_params(),
                "n_features_in": self.n_features_in_,
                "best_iteration": self.best_iteration_,
                "classes": self._encoder.classes_.tolist() if self._classifier else None,
            }

        save_native_dir(self, directory, "model_", lambda d: self.model_.save_model(str(d / "model.cbm")), meta)

    @classmethod
    def load_native(cls, directory: str | Path) -> _CatBoostModel:
        """Rebuild from :meth:`save_native` output (CatBoost's .cbm format is data, not code)."""
        from sklearn.preprocessing import LabelEncoder

        cb = _import_catboost()
        d, meta, target = read_native_meta(directory, (CatBoostClassifierModel, CatBoostRegressorModel))
        est = target(**meta["params"])
        est.model_ = (cb.CatBoostClassifier if est._classifier else cb.CatBoostRegressor)()
        est.model_.load_model(str(d / "model.cbm"))
        if est._classifier:
            est._encoder = LabelEncoder()
            est._encoder.classes_ = np.asarray(meta["classes"])
        est.n_features_in_ = meta["n_features_in"]
        est.best_iteration_ = meta["best_iteration"]
        est.truncated_ = False
        return est


class CatBoostClassifierModel(ClassifierMixin, _CatBoostModel):
    _classifier = True


class CatBoostRegressorModel(RegressorMixin, _CatBoostModel):
    _classifier = False
