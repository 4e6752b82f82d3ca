"""AutoKeras' structured-data search behind the scikit-learn contract (imported only when used).

Each fit runs one bounded AutoKeras search (``max_trials`` inner models, at most ``max_epochs``
epochs each) in a private temporary directory, on our own validation split, and keeps the best
inner model. The trial's deadline stops the current inner model between batches, and later inner
models then stop at their first batch, so the whole fit ends within about a batch of the deadline.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from search_spaces._budget import current_budget
from search_spaces._keras_model import KerasNative, import_keras
from search_spaces._nn_common import (
    prepare_target,
    validation_split,
)


class _AutoKerasModel(KerasNative):
    #: The framework whose adapter builds this estimator (the ONNX export asks that adapter for a converter).
    framework = "autokeras"
    _classifier = False

    def __init__(
        self,
        max_trials: int = 1,
        max_epochs: int = 30,
        patience: int = 5,
        validation_fraction: float = 0.15,
        device: str = "cpu",
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.max_trials = max_trials
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> _AutoKerasModel:
        keras = import_keras(self.n_jobs)
        try:
            import autokeras as ak
        except ImportError as e:
            raise ImportError("the 'autokeras' framework needs: pip install 'automl-recommender[tensorflow]'") from e
        import tensorflow as tf

        budget = current_budget()
        keras.utils.set_random_seed(self.random_state)
        X = np.asarray(X, dtype=np.float32)
        target, y_fit = prepare_target(self, y, self._classifier)
        tr, va = validation_split(X.shape[0], target, self.validation_fraction, self.random_state)
        if va is None:
            raise ValueError("AutoKeras needs at least 50 rows (it searches on a validation split)")
        state = {"step": 0}
        to_loss = (lambda v: v) if self._classifier else (lambda v: math.sqrt(max(v, 0.0)) * self.y_std_)

        def on_epoch(val_loss: float) -> None:  # shared by the copies KerasTuner makes of callbacks
            state["step"] += 1
            budget.emit(state["step"], -to_loss(val_loss))

        class Budget(keras.callbacks.Callback):  # type: ignore[misc, name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.on_epoch = on_epoch

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                if budget.expired():
                    self.model.stop_training = True

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                if logs and logs.get("val_loss") is not None:
                    self.on_epoch(float(logs["val_loss"]))

        workdir = tempfile.mkdtemp(prefix="automl-autokeras-")
        try:
            cls = ak.StructuredDataClassifier if self._classifier else ak.StructuredDataRegressor
            search = cls(
                max_trials=self.max_trials, directory=workdir, overwrite=True, seed=self.random_state,
                column_names=[f"f{i}" for i in range(X.shape[1])],
                column_types={f"f{i}": "numerical" for i in range(X.shape[1])},
            )
            early = keras.callbacks.EarlyStopping(patience=self.patience, restore_best_weights=True)
            with tf.device("/GPU:0" if self.device == "cuda" else "/CPU:0"):
                search.fit(
                    X[tr], y_fit[tr], validation_data=(X[va], y_fit[va]), epochs=self.max_epochs,
                    callbacks=[Budget(), early], verbose=0,
                )
                self.model_ = search.export_model()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        self.truncated_ = budget.expired()
        self.n_features_in_ = X.shape[1]
        return self

    @classmethod
    def _before_load(cls) -> None:
        import autokeras  # noqa: F401  (registers AutoKeras' custom layers for deserialisation)


class AutoKerasClassifierModel(ClassifierMixin, _AutoKerasModel):
    _classifier = True


class AutoKerasRegressorModel(RegressorMixin, _AutoKerasModel):
    _classifier = False
