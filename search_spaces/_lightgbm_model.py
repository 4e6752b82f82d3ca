"""LightGBM behind the scikit-learn contract; imported only when a LightGBM estimator is built."""

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
INSTALL_HINT = "pip install 'automl-recommender[lightgbm]'"


def _import_lightgbm() -> Any:
    try:
        import lightgbm
    except ImportError as e:
        raise ImportError(f"the 'lightgbm' framework needs the lightgbm package: {INSTALL_HINT}") from e
    return lightgbm


class _BudgetCallback:
    """Early stopping on the validation loss, intermediate reports and the trial's deadline, in one
    LightGBM callback: a second early-stopping callback would lose the best round when this one stops."""

    order = 30  # after LightGBM's own callbacks, none of which is used here

    def __init__(self, lgb: Any, patience: int | None) -> None:
        self._stop = lgb.callback.EarlyStopException
        self._budget = current_budget()
        self._patience = patience
        self._best = (float("inf"), -1, [])
        self.truncated = False

    @property
    def best_rounds(self) -> int | None:
        """Rounds up to the lowest validation loss seen (None without a validation set)."""
        return self._best[1] + 1 if self._best[1] >= 0 else None

    def __call__(self, env: Any) -> None:
        rounds = env.iteration + 1
        if env.evaluation_result_list:
            loss = float(env.evaluation_result_list[0][2])
            if loss < self._best[0]:
                self._best = (loss, env.iteration, list(env.evaluation_result_list))
            if rounds % REPORT_EVERY == 0:
                self._budget.emit(rounds, -loss)  # may raise optuna.TrialPruned
            if self._patience is not None and env.iteration - self._best[1] >= self._patience:
                raise self._stop(self._best[1], self._best[2])
        if self._budget.expired():
            self.truncated = True
            best = self._best[1] if self._best[1] >= 0 else env.iteration
            raise self._stop(best, self._best[2])


class _LightGBMModel(BaseEstimator):
    """LightGBM behind the scikit-learn contract, with its own validation split for early stopping.

    ``n_categorical`` leading columns are category codes (NaN: unknown) handed to LightGBM's native
    categorical splits; class labels of any type are encoded internally and restored on predict.
    The fitted booster holds only the trees up to the best round, so it predicts, saves and exports
    exactly what was validated. Features go in as float32, as in XGBoost, so that an ONNX graph (which
    computes in float32) takes every split the same way.
    """

    #: The framework whose adapter builds this estimator (the ONNX export asks that adapter for a converter).
    framework = "lightgbm"
    _classifier = False

    def __init__(
        self,
        n_estimators: int = 2000,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        reg_alpha: float = 0.0,
        class_weight: str | None = None,
        n_categorical: int = 0,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.1,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.class_weight = class_weight
        self.n_categorical = n_categorical
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _params(self, n_classes: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "reg_alpha": self.reg_alpha,
            "num_threads": self.n_jobs if self.n_jobs > 0 else 0,
            "seed": self.random_state,
            "verbosity": -1,
            "force_col_wise": True,  # skips the row/col-wise timing test (and its message)
            "max_cat_to_onehot": 4,
            # LightGBM's default (100 rows per category group) blocks every categorical split on small data.
            "min_data_per_group": self.min_child_samples,
        }
        if self.subsample < 1.0:
            params.update(subsample=self.subsample, subsample_freq=1)
        if not self._classifier:
            params.update(objective="regression", metric="rmse")
        elif n_classes <= 2:
            params.update(objective="binary", metric="binary_logloss")
        else:
            params.update(objective="multiclass", num_class=n_classes, metric="multi_logloss")
        return params

    def fit(self, X: Any, y: Any) -> _LightGBMModel:
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import LabelEncoder
        from sklearn.utils.class_weight import compute_sample_weight

        lgb = _import_lightgbm()
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        n_classes = 0
        if self._classifier:
            self._encoder = LabelEncoder().fit(y)
            y = self._encoder.transform(y)
            n_classes = len(self._encoder.classes_)
        weights = compute_sample_weight("balanced", y) if self._classifier and self.class_weight == "balanced" else None
        categorical = list(range(self.n_categorical))
        use_validation = X.shape[0] >= MIN_EARLY_STOPPING_ROWS and self.validation_fraction > 0
        rounds = self.n_estimators if use_validation else min(self.n_estimators, 200)
        train_idx = np.arange(X.shape[0])
        valid_sets = []
        if use_validation:
            stratify = y if self._classifier and np.min(np.bincount(y)) >= 2 else None
            train_idx, va = train_test_split(
                train_idx, test_size=self.validation_fraction, random_state=self.random_state, stratify=stratify
            )
        train = lgb.Dataset(
            X[train_idx], y[train_idx], weight=None if weights is None else weights[train_idx],
            categorical_feature=categorical, free_raw_data=True, params={"verbosity": -1},
        )
        if use_validation:
            valid_sets = [lgb.Dataset(X[va], y[va], reference=train, categorical_feature=categorical)]
        callback = _BudgetCallback(lgb, self.early_stopping_rounds if use_validation else None)
        booster = lgb.train(
            self._params(n_classes), train, num_boost_round=rounds, valid_sets=valid_sets or None,
            callbacks=[callback],
        )
        best = min(callback.best_rounds or booster.current_iteration(), booster.current_iteration())
        if best < booster.current_iteration():  # keep only the validated rounds
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.booster_ = booster
        self.best_iteration_ = int(best)
        self.truncated_ = bool(callback.truncated)
        self.n_features_in_ = X.shape[1]
        return self

    @property
    def classes_(self) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return self._encoder.classes_

    def _raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.predict(np.asarray(X, dtype=np.float32)), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        if not self._classifier:
            return self._raw(X)
        return self._encoder.inverse_transform(np.argmax(self.predict_proba(X), axis=1))

    def predict_proba(self, X: Any) -> np.ndarray:
        out = self._raw(X)
        if out.ndim == 1:  # binary: the positive class's probability
            out = np.column_stack([1.0 - out, out])
        return out

    # -- native persistence -------------------------------------------------------------------
    def save_native(self, directory: str | Path) -> None:
        """Write ``model.txt`` (LightGBM's text model) and ``model.json`` (labels, arguments)."""

        def meta() -> dict[str, Any]:
            return {
                "params": self.get_params(),
                "n_features_in": self.n_features_in_,
                "best_iteration": self.best_iteration_,
                "classes": self._encoder.classes_.tolist() if self._classifier else None,
            }

        save_native_dir(self, directory, "booster_", lambda d: self.booster_.save_model(str(d / "model.txt")), meta)

    @classmethod
    def load_native(cls, directory: str | Path) -> _LightGBMModel:
        """Rebuild from :meth:`save_native` output (LightGBM's text format is data, not code)."""
        from sklearn.preprocessing import LabelEncoder

        lgb = _import_lightgbm()
        d, meta, target = read_native_meta(directory, (LightGBMClassifierModel, LightGBMRegressorModel))
        est = target(**meta["params"])
        est.booster_ = lgb.Booster(model_file=str(d / "model.txt"))
        if est._classifier:
            est._encoder = LabelEncoder()
            est._encoder.classes_ = np.asarray(meta["classes"])
        est.n_features_in_ = meta["n_features_in"]
        est.best_iteration_ = meta["best_iteration"]
        est.truncated_ = False
        return est


class LightGBMClassifierModel(ClassifierMixin, _LightGBMModel):
    _classifier = True


class LightGBMRegressorModel(RegressorMixin, _LightGBMModel):
    _classifier = False
