"""Keras 3 (TensorFlow, JAX or torch backend): KerasTuner HyperModels searched by the Optuna study through the bridge.

Families: ``realmlp`` (the PyTorch RealMLP's architecture in backend-agnostic Keras,
:mod:`search_spaces._keras_realmlp`), ``mlp``, and ``custom`` for a user's HyperModel. The backend is
the process's (``KERAS_BACKEND``, set before keras is first imported; see ``recommender.keras_backends``).

The search space is KerasTuner's own language (a ``HyperModel``); :mod:`search_spaces.keras_bridge`
turns each ``hp.Int`` / ``hp.Float`` / ``hp.Choice`` / ``hp.Boolean`` into the trial's
``suggest_*`` call. A user's HyperModel joins the same study as the family ``custom``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec

#: RealMLP-TD's defaults, the same numbers as the PyTorch RealMLP's default configuration.
DEFAULT_REALMLP = {
    "hidden_units": 256, "n_layers": 3, "dropout": 0.15, "embedding": True, "learning_rate": 0.04,
    "weight_decay": 0.0, "schedule": "coslog4", "batch_size": 256,
}
#: RealMLP trains as long as the PyTorch one: up to 256 epochs, patience 64.
REALMLP_EPOCHS, REALMLP_PATIENCE = 256, 64
BACKEND_LABELS = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "torch"}

DEFAULT_MLP = {
    "layers": 2, "units": 128, "shape": "constant", "dropout": 0.1, "batch_norm": False,
    "learning_rate": 2e-3, "batch_size": 128,
}


def keras_backend_in_use() -> str:
    """The Keras backend of this process: keras' own once imported, else ``KERAS_BACKEND`` (default
    tensorflow); reads no framework."""
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return str(keras.backend.backend())
    return os.environ.get("KERAS_BACKEND", "tensorflow")


class _DisplayName:
    """``Keras (<backend>)``, for the backend this process runs Keras on (read on the class too)."""

    def __get__(self, obj: Any, owner: Any = None) -> str:
        backend = keras_backend_in_use()
        return f"Keras ({BACKEND_LABELS.get(backend, backend)})"


class KerasAdapter(FrameworkAdapter):
    """Adapter for Keras models; ``hypermodel`` adds a user's KerasTuner HyperModel as ``custom``."""

    name = "keras"
    display_name = _DisplayName()  # type: ignore[assignment]
    distribution = "keras"
    import_name = "keras"
    tasks = frozenset(TASKS)
    supports_gpu = True
    relative_cost = 8.0
    iterative = True
    import_seconds = 4.0
    install_hint = "pip install 'automl-recommender[tensorflow]'"
    network = True
    warmup_steps = 5
    batch_overhead_seconds = 0.003
    prior_score = 0.46
    colour = "#2ca02c"
    onnx_converter = "keras"

    def __init__(self, hypermodel: Any = None) -> None:
        self.hypermodel = hypermodel

    @classmethod
    def is_installed(cls) -> bool:
        import importlib.util

        modules = ("keras", "keras_tuner", keras_backend_in_use())
        return all(importlib.util.find_spec(m) is not None for m in modules)

    @classmethod
    def gpu_build(cls, version: str, dists: set[str]) -> tuple[bool, str]:
        if any(d.startswith("nvidia-cudnn") for d in dists):
            return True, "TensorFlow has the CUDA libraries (tensorflow[and-cuda]) installed"
        return False, "TensorFlow's CUDA libraries are not installed (pip install 'tensorflow[and-cuda]')"

    def families(self, spec: FeatureSpec) -> list[str]:
        return ["custom", "realmlp", "mlp"] if self.hypermodel is not None else ["realmlp", "mlp"]

    def _hypermodel(self, family: str) -> Any:
        if family == "custom":
            return self.hypermodel
        if family == "realmlp":
            from search_spaces._keras_realmlp import RealMLPHyperModel

            return RealMLPHyperModel()
        from search_spaces._keras_model import TabularMLPHyperModel

        return TabularMLPHyperModel()

    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        from search_spaces._keras_model import import_keras
        from search_spaces.keras_bridge import OptunaHyperParameters, declare_context

        family = self.suggest_family(trial, spec)
        import_keras()
        hp = OptunaHyperParameters(trial, prefix=f"{self.name}.{family}")
        n_out = 1 if spec.task == "regression" else max(spec.n_classes, 2)
        declare_context(hp, spec.n_features, n_out, spec.task)
        self._hypermodel(family).build(hp)  # declares the hyper-parameters; the model is discarded
        params = hp.searched_values()
        if spec.is_classification:
            name = f"{self.name}.{family}.class_weight"
            params["class_weight"] = trial.suggest_categorical(name, ["none", "balanced"])
        return Config(self.name, family, params)

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        p: dict[str, Any] = dict(DEFAULT_MLP)
        if spec.n_rows > 5000:
            p["batch_size"] = 256
        if spec.is_classification:
            p["class_weight"] = "none"
        realmlp: dict[str, Any] = dict(DEFAULT_REALMLP)
        if spec.is_classification:
            realmlp["class_weight"] = "none"
        ours = [Config(self.name, "realmlp", realmlp), Config(self.name, "mlp", p)]
        # A user's HyperModel goes first; the sampler fills in its hyper-parameters.
        return [Config(self.name, "custom", {}), *ours] if self.hypermodel is not None else ours

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        import numpy as np

        from search_spaces._keras_model import KerasClassifierModel, KerasRegressorModel
        from search_spaces._preprocess import make_preprocessor, n_categorical_outputs, with_preprocessing

        values = dict(config.params)
        weight = values.pop("class_weight", "none")
        extra: dict[str, Any] = {}
        if config.family == "realmlp":
            # Category codes first (the network one-hots or embeds them), numeric columns unscaled
            # (the network robust-scales them), as for the PyTorch RealMLP.
            pre = make_preprocessor(
                spec, categorical="ordinal", impute=True, scale=False, text_features=100, dtype=np.float32
            )
            extra = {"n_categorical": n_categorical_outputs(spec), "max_epochs": REALMLP_EPOCHS,
                     "patience": REALMLP_PATIENCE}
        else:
            pre = make_preprocessor(spec, categorical="onehot", scale=True, text_features=100, dtype=np.float32)
        cls = KerasClassifierModel if spec.is_classification else KerasRegressorModel
        model = cls(
            hypermodel=self.hypermodel if config.family == "custom" else None,
            hp_values=values,
            class_weight=None if weight == "none" else weight,
            device=device,
            n_jobs=n_jobs,
            random_state=seed,
            family=config.family,
            **extra,
        )
        return with_preprocessing(pre, model)


register(KerasAdapter, aliases=("tensorflow", "tf", "tf.keras"))
