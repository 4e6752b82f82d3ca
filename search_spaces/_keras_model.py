"""A KerasTuner HyperModel for tabular data and the estimator that trains any HyperModel.

Imported only when a Keras trial runs (TensorFlow costs seconds and hundreds of MB to import).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from search_spaces._base import read_native_meta, save_native_dir
from search_spaces._budget import current_budget
from search_spaces._keras_reuse import detached, reusable
from search_spaces._nn_common import (
    ProbabilityOutputs,
    balanced_weights,
    prepare_target,
    restore_target,
    target_meta,
    validation_split,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_CONFIGURED = False


def import_keras(n_jobs: int = 1) -> Any:
    """Import Keras on the backend ``KERAS_BACKEND`` names (default TensorFlow; one per process, fixed
    at keras' first import), with CPU threads capped and, on TensorFlow, GPU memory growth on (once)."""
    global _CONFIGURED
    backend = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if backend == "jax" and "jax" not in sys.modules and n_jobs == 1:
        # XLA's CPU thread pool is sized when jax starts; one trial thread means one XLA thread.
        flags = os.environ.get("XLA_FLAGS", "")
        if "intra_op_parallelism_threads" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    try:
        import keras
    except ImportError as e:
        raise ImportError(f"the 'keras' framework needs Keras and its backend {backend!r}: {_HINT}") from e
    if not _CONFIGURED:
        _configure(keras.backend.backend(), n_jobs)
        _CONFIGURED = True
    return keras


_HINT = "pip install 'automl-recommender[tensorflow]' (and 'automl-recommender[jax]' for the JAX backend)"


def _configure(backend: str, n_jobs: int) -> None:
    if backend == "torch":
        import torch

        torch.set_num_threads(max(1, n_jobs))
        return
    if backend != "tensorflow":
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: growth can no longer change
            pass
    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, n_jobs))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, n_jobs)))
    except RuntimeError:
        pass


def _seed(keras: Any, seed: int) -> None:
    """``keras.utils.set_random_seed`` without its import of TensorFlow on the other backends (4 s, 700 MB:
    it seeds tf.data in case a workflow uses it; these estimators feed numpy arrays)."""
    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    import random

    from keras.src.backend.common import global_state  # keras' own seed, read by its initialisers and dropout

    global_state.set_global_attribute("global_random_seed", seed)
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


class TabularMLPHyperModel(kt.HyperModel):  # type: ignore[misc]
    """The default Keras search space: an MLP written as a KerasTuner ``HyperModel``.

    ``layers``, ``units``, ``shape`` (constant width or a funnel that halves it), ``dropout``,
    ``batch_norm``, ``learning_rate`` (AdamW) and ``batch_size`` (read by the estimator's fit).
    """

    def build(self, hp: Any) -> Any:
        keras = import_keras()
        layers = hp.Int("layers", 1, 4)
        units = hp.Int("units", 32, 512, sampling="log")
        shape = hp.Choice("shape", ["constant", "funnel"])
        dropout = hp.Float("dropout", 0.0, 0.5)
        batch_norm = hp.Boolean("batch_norm")
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        hp.Choice("batch_size", [64, 128, 256, 512])
        model = keras.Sequential([keras.Input((hp.get("n_features"),))])
        width = units
        for _ in range(layers):
            model.add(keras.layers.Dense(width))
            if batch_norm:
                model.add(keras.layers.BatchNormalization())
            model.add(keras.layers.Activation("silu"))
            if dropout > 0:
                model.add(keras.layers.Dropout(dropout))
            if shape == "funnel":
                width = max(16, width // 2)
        task, n_out = hp.get("task"), hp.get("n_outputs")
        if task == "regression":
            model.add(keras.layers.Dense(1))
            loss = "mse"
        else:
            model.add(keras.layers.Dense(n_out, activation="softmax"))
            loss = "sparse_categorical_crossentropy"
        model.compile(optimizer=keras.optimizers.AdamW(learning_rate=learning_rate), loss=loss)
        return model

    def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
        return model.fit(*args, **kwargs)


def _budget_callback(keras: Any, monitor: str = "val_loss", predict_passes: int = 1, epoch_passes: int = 1) -> Any:
    budget = current_budget()

    class BudgetCallback(keras.callbacks.Callback):  # type: ignore[misc, name-defined]
        """Stops between batches early enough to finish by the trial's deadline; reports each epoch's
        validation loss, at the passes over the training rows so far (``epoch_passes`` per epoch).

        What still runs after the last batch is kept in reserve: the epoch's validation pass and
        ``predict_passes`` predictions (temperature scaling, the fold's validation rows). On JAX the
        first of each compiles (RealMLP on mfeat_factors: 2.0 s for the train step, 0.5 s for the
        evaluation, 0.3 s each prediction), so stopping at the deadline itself overran it by 1.2-1.6 s.
        Before the first validation pass is timed, each is estimated at a quarter of the first batch's seconds.
        """

        def __init__(self, to_report: Any) -> None:
            super().__init__()
            self.truncated = False
            self.to_report = to_report
            self.started = time.monotonic()
            self.first_batch: float | None = None  # seconds of the first batch (it compiles the train step)
            self.first_eval: float | None = None  # seconds of the first validation pass (it compiles)
            self.last_eval: float | None = None
            self._eval_started = 0.0

        def reserve(self) -> float:
            """Seconds the fit still needs after its last batch."""
            compile_estimate = 0.25 * (self.first_batch or 0.0)
            first = self.first_eval if self.first_eval is not None else compile_estimate
            validation = self.last_eval if self.last_eval is not None else first
            return validation + predict_passes * first

        def on_train_begin(self, logs: Any = None) -> None:
            self.started = time.monotonic()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            now = time.monotonic()
            if self.first_batch is None:
                self.first_batch = now - self.started
            if budget.deadline is not None and now + self.reserve() >= budget.deadline:
                self.truncated = True
                self.model.stop_training = True

        def on_test_begin(self, logs: Any = None) -> None:
            self._eval_started = time.monotonic()

        def on_test_end(self, logs: Any = None) -> None:
            seconds = time.monotonic() - self._eval_started
            if self.first_eval is None:
                self.first_eval = seconds
            else:
                self.last_eval = seconds

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            val = (logs or {}).get(monitor)
            if val is None:
                return
            if not math.isfinite(val):
                raise FloatingPointError(f"validation loss is {val} after epoch {epoch + 1}")
            budget.emit((epoch + 1) * epoch_passes, -self.to_report(val))

    return BudgetCallback


def whole_batches(tr: np.ndarray, batch_size: int, seed: int) -> np.ndarray:
    """``tr`` padded with randomly repeated rows to a multiple of ``batch_size``: a last, smaller
    batch has a new shape, which JAX compiles the train step again for (2 s for RealMLP on
    mfeat_factors, as long as the first compile)."""
    pad = (-len(tr)) % batch_size
    if pad == 0 or len(tr) < batch_size:
        return tr
    return np.concatenate([tr, np.random.default_rng(seed).choice(tr, pad, replace=False)])


#: A small training set is repeated within one Keras epoch until the epoch holds this many batches.
#: A Keras epoch costs about 60 ms of CPU of its own on TensorFlow (its iterators, callbacks,
#: validation pass and logs), far more than one batch's step: diabetes' RealMLP (225 training rows,
#: one batch) took 8 s a fold for its 256 one-batch epochs, torch's RealMLP 0.1 s.
EPOCH_BATCHES = 16


def passes_per_epoch(n_train: int, batch_size: int, max_epochs: int) -> int:
    """Passes over the training rows in one Keras epoch: enough for ``EPOCH_BATCHES`` batches, at most
    ``max_epochs``."""
    batches = max(1, math.ceil(n_train / max(1, batch_size)))
    return max(1, min(max_epochs, EPOCH_BATCHES // batches))


def repeated(tr: np.ndarray, passes: int, seed: int) -> np.ndarray:
    """``tr`` in ``passes`` shuffled copies (``fit`` shuffles them together again each epoch)."""
    if passes <= 1:
        return tr
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(tr) for _ in range(passes)])


#: Validation sets up to this many rows are evaluated as one batch (one shape: one compile on JAX).
ONE_BATCH_VALIDATION = 8192


class KerasNative(ProbabilityOutputs, BaseEstimator):
    """What the Keras-based estimators share: prediction on their device and ``.keras`` persistence.

    Subclasses say which constructor arguments and fitted attributes rebuild them
    (``_init_args``, ``_fitted_state``, both JSON).
    """

    device: str
    model_: Any
    n_features_in_: int

    def _device_scope(self, keras: Any) -> Any:
        """Keras' device scope for ``device``; none on the torch backend, whose scope breaks layers
        with integer state (keras 3.12: Dropout's seed, "Only Tensors of floating point ... can
        require gradients"): there keras places the model itself (CUDA when torch sees one)."""
        if keras.backend.backend() == "torch":
            return contextlib.nullcontext()
        return keras.device("gpu:0" if self.device == "cuda" else "cpu:0")

    def _raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        keras = import_keras()

        with self._device_scope(keras):
            out = self.model_.predict(np.asarray(X, dtype=np.float32), verbose=0, batch_size=4096)
        return np.asarray(out, dtype=np.float64)

    def _init_args(self) -> dict[str, Any]:
        return dict(self.get_params())

    def _fitted_state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _before_load(cls) -> None:
        """Import what deserialising the model needs (custom layers register on import)."""

    def save_native(self, directory: str | Path) -> None:
        """Write ``model.keras`` (Keras' own format) and ``model.json`` (labels, scaling, arguments)."""

        def meta() -> dict[str, Any]:
            return {
                "init": self._init_args(),
                "fitted": self._fitted_state(),
                "n_features_in": self.n_features_in_,
                **target_meta(self, bool(getattr(self, "_classifier", False))),
            }

        save_native_dir(self, directory, "model_", lambda d: self.model_.save(d / "model.keras"), meta)

    @classmethod
    def load_native(cls, directory: str | Path) -> KerasNative:
        """Rebuild from :meth:`save_native` output with Keras' safe mode (no arbitrary code)."""
        keras = import_keras()
        cls._before_load()
        d, meta, variant = read_native_meta(directory, _subclasses(cls))
        est = variant(**meta["init"])
        est.model_ = keras.models.load_model(d / "model.keras", safe_mode=True)
        for name, value in meta["fitted"].items():
            setattr(est, name, value)
        est.n_features_in_ = meta["n_features_in"]
        restore_target(est, meta)
        est.truncated_ = est.shortened_ = False
        return est


def _subclasses(cls: type) -> list[type]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_subclasses(sub))
    return out


class _KerasModel(KerasNative):
    """Trains the Keras model a HyperModel builds from fixed hyper-parameter values."""

    #: The framework whose adapter builds this estimator (the ONNX export asks that adapter for a converter).
    framework = "keras"
    _classifier = False

    def __init__(
        self,
        hypermodel: Any = None,
        hp_values: dict[str, Any] | None = None,
        max_epochs: int = 100,
        patience: int = 8,
        validation_fraction: float = 0.15,
        class_weight: str | None = None,
        device: str = "cpu",
        n_jobs: int = 1,
        random_state: int = 0,
        family: str = "mlp",
        n_categorical: int = 0,
    ) -> None:
        self.family = family
        self.n_categorical = n_categorical
        self.hypermodel = hypermodel
        self.hp_values = hp_values
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> _KerasModel:
        keras = import_keras(self.n_jobs)
        from search_spaces.keras_bridge import fixed_hyperparameters

        _seed(keras, self.random_state)
        X = np.asarray(X, dtype=np.float32)
        target, y_fit = prepare_target(self, y, self._classifier)
        n_out = len(self.classes_) if self._classifier else 1
        task = ("binary" if n_out == 2 else "multiclass") if self._classifier else "regression"
        self.n_features_in_ = X.shape[1]
        self.task_ = task
        hypermodel = self.hypermodel if self.hypermodel is not None else self._family_hypermodel(X)
        hp = fixed_hyperparameters(dict(self.hp_values or {}), n_features=X.shape[1], n_outputs=n_out, task=task)
        tr, va = validation_split(X.shape[0], target, self.validation_fraction, self.random_state)
        batch_size = int(hp.values.get("batch_size", 128))
        # A user's hypermodel may read its epochs otherwise: only the built-in families repeat rows.
        passes = passes_per_epoch(len(tr), batch_size, self.max_epochs) if self.hypermodel is None else 1
        tr = whole_batches(repeated(tr, passes, self.random_state), batch_size, self.random_state)
        epochs, patience = math.ceil(self.max_epochs / passes), math.ceil(self.patience / passes)
        with self._device_scope(keras):
            shared = False
            if self.hypermodel is None:  # a built-in family: the last fold's model and its traced steps
                key = (self.family, self.device, self.random_state, repr(sorted(hp.values.items())),
                       getattr(hypermodel, "n_categorical", 0), tuple(getattr(hypermodel, "cardinalities", ())))
                model, hp, shared = reusable(key, hypermodel, hp)
            else:
                model = hypermodel.build(hp)
            if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
                loss = "mse" if task == "regression" else "sparse_categorical_crossentropy"
                model.compile(optimizer="adam", loss=loss)
            # What is reported and early-stopped on: RealMLP's log loss without label smoothing.
            monitor = getattr(hypermodel, "monitor", "val_loss")
            to_report = (lambda v: v) if self._classifier else (lambda v: math.sqrt(max(v, 0.0)) * self.y_std_)
            finalize = getattr(hypermodel, "finalize", None)  # RealMLP: temperature scaling on validation
            predict_passes = 2 if finalize is not None and self._classifier else 1
            callback = _budget_callback(keras, monitor, predict_passes, passes)(to_report)
            callbacks: list[Any] = [callback]
            kwargs: dict[str, Any] = {}
            if va is not None:
                kwargs["validation_data"] = (X[va], y_fit[va])
                if len(va) <= ONE_BATCH_VALIDATION:
                    kwargs["validation_batch_size"] = len(va)
                callbacks.append(
                    keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True)
                )
            if self._classifier and self.class_weight == "balanced":
                kwargs["class_weight"] = dict(enumerate(balanced_weights(target[tr], n_out).tolist()))
            hypermodel.fit(
                hp, model, X[tr], y_fit[tr], epochs=epochs,
                batch_size=batch_size, callbacks=callbacks, verbose=0, **kwargs,
            )
            if shared:  # this estimator's own copy: the next fold trains the kept model again
                model = detached(hypermodel, hp, model)
            if finalize is not None:
                val = (X[va], target[va]) if va is not None and self._classifier else (None, None)
                model = finalize(hp, model, *val)
        self.model_ = model
        self.hp_values_ = {k: v for k, v in hp.values.items() if k not in ("n_features", "n_outputs", "task")}
        self.truncated_ = bool(callback.truncated)  # stopped at its deadline, mid-schedule
        self.shortened_ = bool(getattr(hypermodel, "shortened", False))  # a schedule fitted to the deadline
        return self

    def _family_hypermodel(self, X: np.ndarray) -> Any:
        if self.family == "realmlp":
            from search_spaces._keras_realmlp import RealMLPHyperModel
            from search_spaces._nn_common import category_cardinalities

            return RealMLPHyperModel(self.n_categorical, category_cardinalities(X, self.n_categorical))
        if self.family not in ("mlp", "custom"):
            raise ValueError(f"unknown keras model family {self.family!r}; known: realmlp, mlp, custom")
        return TabularMLPHyperModel()

    @classmethod
    def _before_load(cls) -> None:
        import search_spaces._keras_realmlp  # noqa: F401  (registers RealMLP's layers for safe-mode loading)

    def _init_args(self) -> dict[str, Any]:
        return {"hp_values": self.hp_values_, "device": self.device, "family": self.family,
                "n_categorical": self.n_categorical}

    def _fitted_state(self) -> dict[str, Any]:
        return {"hp_values_": self.hp_values_, "task_": self.task_}


class KerasClassifierModel(ClassifierMixin, _KerasModel):
    _classifier = True


class KerasRegressorModel(RegressorMixin, _KerasModel):
    _classifier = False
