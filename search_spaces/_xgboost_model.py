"""XGBoost behind the scikit-learn contract; imported only when an XGBoost estimator is built."""

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


def _import_xgboost() -> Any:
    try:
        import xgboost
    except ImportError as e:
        raise ImportError(
            "the 'xgboost' framework needs the xgboost package: pip install xgboost"
        ) from e
    return xgboost


def _make_callback(xgb: Any) -> Any:
    """An XGBoost callback that reports validation loss and stops at the trial's deadline."""
    budget = current_budget()

    class _BudgetCallback(xgb.callback.TrainingCallback):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.truncated = False

        def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
            rounds = epoch + 1
            if evals_log and rounds % REPORT_EVERY == 0:
                history = next(iter(evals_log.values()))
                loss = float(next(iter(history.values()))[-1])
                budget.emit(rounds, -loss)
            if budget.expired():
                self.truncated = True
                return True
            return False

    return _BudgetCallback()


class _XGBoostModel(BaseEstimator):
    """XGBoost behind the scikit-learn contract, with its own validation split for early stopping.

    ``n_categorical`` leading columns are category codes handed to XGBoost's native categorical
    splits; class labels of any type are encoded internally and restored on predict.
    """

    #: The framework whose adapter builds this estimator (the ONNX export asks that adapter for a converter).
    framework = "xgboost"
    _classifier = False

    def __init__(
        self,
        n_estimators: int = 1000,
        learning_rate: float = 0.1,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
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
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.class_weight = class_weight
        self.n_categorical = n_categorical
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> _XGBoostModel:
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import LabelEncoder
        from sklearn.utils.class_weight import compute_sample_weight

        xgb = _import_xgboost()
        y = np.asarray(y)
        if self._classifier:
            self._encoder = LabelEncoder().fit(y)
            y = self._encoder.transform(y)
            n_classes = len(self._encoder.classes_)
        n_cols = X.shape[1]
        feature_types = ["c"] * self.n_categorical + ["q"] * (n_cols - self.n_categorical)
        params: dict[str, Any] = dict(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            min_child_weight=self.min_child_weight,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            reg_alpha=self.reg_alpha,
            tree_method="hist",
            device=self.device,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            enable_categorical=self.n_categorical > 0,
            feature_types=feature_types,
            max_cat_to_onehot=4,
        )
        if self._classifier:
            binary = n_classes <= 2
            params["objective"] = "binary:logistic" if binary else "multi:softprob"
            params["eval_metric"] = "logloss" if binary else "mlogloss"
            model_cls = xgb.XGBClassifier
        else:
            params["objective"] = "reg:squarederror"
            params["eval_metric"] = "rmse"
            model_cls = xgb.XGBRegressor
        callback = _make_callback(xgb)
        weights = compute_sample_weight("balanced", y) if self._classifier and self.class_weight == "balanced" else None
        use_validation = X.shape[0] >= MIN_EARLY_STOPPING_ROWS and self.validation_fraction > 0
        fit_kwargs: dict[str, Any] = {"verbose": False}
        X_tr, y_tr, w_tr = X, y, weights
        if use_validation:
            stratify = y if self._classifier and np.min(np.bincount(y)) >= 2 else None
            idx = np.arange(X.shape[0])
            tr, va = train_test_split(
                idx, test_size=self.validation_fraction, random_state=self.random_state, stratify=stratify
            )
            X_tr, y_tr = X[tr], y[tr]
            w_tr = None if weights is None else weights[tr]
            fit_kwargs["eval_set"] = [(X[va], y[va])]
            params["early_stopping_rounds"] = self.early_stopping_rounds
        else:
            params["n_estimators"] = min(self.n_estimators, 200)
        model = model_cls(callbacks=[callback], **params)
        model.fit(X_tr, y_tr, sample_weight=w_tr, **fit_kwargs)
        model.set_params(callbacks=None)  # the callback holds the trial's reporter; drop it
        self.model_ = model
        self.truncated_ = bool(callback.truncated)
        rounds = getattr(model, "best_iteration", None) if use_validation else None
        self.best_iteration_ = int(rounds if rounds is not None else params["n_estimators"])
        self.n_features_in_ = n_cols
        return self

    @property
    def classes_(self) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self._encoder.classes_

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        pred = self.model_.predict(X)
        return self._encoder.inverse_transform(pred.astype(int)) if self._classifier else pred

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(X)

    # -- native persistence -------------------------------------------------------------------
    def save_native(self, directory: str | Path) -> None:
        """Write ``model.ubj`` (XGBoost's own binary JSON) and ``model.json`` (labels, arguments)."""

        def meta() -> dict[str, Any]:
            return {
                "params": self.get_params(),
                "n_features_in": self.n_features_in_,
                "best_iteration": self.best_iteration_,
                "classes": self._encoder.classes_.tolist() if self._classifier else None,
            }

        save_native_dir(self, directory, "model_", lambda d: self.model_.save_model(d / "model.ubj"), meta)

    @classmethod
    def load_native(cls, directory: str | Path) -> _XGBoostModel:
        """Rebuild from :meth:`save_native` output (XGBoost's loader reads data, not code)."""
        from sklearn.preprocessing import LabelEncoder

        xgb = _import_xgboost()
        d, meta, target = read_native_meta(directory, (XGBoostClassifierModel, XGBoostRegressorModel))
        est = target(**meta["params"])
        est.model_ = (xgb.XGBClassifier if est._classifier else xgb.XGBRegressor)()
        est.model_.load_model(d / "model.ubj")
        if est._classifier:
            est._encoder = LabelEncoder()
            est._encoder.classes_ = np.asarray(meta["classes"])
        est.n_features_in_ = meta["n_features_in"]
        est.best_iteration_ = meta["best_iteration"]
        est.truncated_ = False
        return est


class XGBoostClassifierModel(ClassifierMixin, _XGBoostModel):
    _classifier = True


class XGBoostRegressorModel(RegressorMixin, _XGBoostModel):
    _classifier = False
