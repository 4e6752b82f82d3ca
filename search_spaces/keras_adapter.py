"""Keras on TensorFlow: a KerasTuner HyperModel searched by the Optuna study through the bridge.

The search space is KerasTuner's own language (a ``HyperModel``); :mod:`search_spaces.keras_bridge`
turns each ``hp.Int`` / ``hp.Float`` / ``hp.Choice`` / ``hp.Boolean`` into the trial's
``suggest_*`` call. A user's HyperModel joins the same study as the family ``custom``.
"""

from __future__ import annotations

from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec

DEFAULT_MLP = {
    "layers": 2, "units": 128, "shape": "constant", "dropout": 0.1, "batch_norm": False,
    "learning_rate": 2e-3, "batch_size": 128,
}


class KerasAdapter(FrameworkAdapter):
    """Adapter for Keras models; ``hypermodel`` adds a user's KerasTuner HyperModel as ``custom``."""

    name = "keras"
    display_name = "Keras (TensorFlow)"
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

        return all(importlib.util.find_spec(m) is not None for m in ("keras", "tensorflow", "keras_tuner"))

    @classmethod
    def gpu_build(cls, version: str, dists: set[str]) -> tuple[bool, str]:
        if any(d.startswith("nvidia-cudnn") for d in dists):
            return True, "TensorFlow has the CUDA libraries (tensorflow[and-cuda]) installed"
        return False, "TensorFlow's CUDA libraries are not installed (pip install 'tensorflow[and-cuda]')"

    def families(self, spec: FeatureSpec) -> list[str]:
        return ["custom", "mlp"] if self.hypermodel is not None else ["mlp"]

    def _hypermodel(self, family: str) -> Any:
        if family == "custom":
            return self.hypermodel
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
        mlp = Config(self.name, "mlp", p)
        # A user's HyperModel goes first; the sampler fills in its hyper-parameters.
        return [Config(self.name, "custom", {}), mlp] if self.hypermodel is not None else [mlp]

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        from search_spaces._keras_model import KerasClassifierModel, KerasRegressorModel
        from search_spaces._preprocess import make_preprocessor, with_preprocessing

        values = dict(config.params)
        weight = values.pop("class_weight", "none")
        pre = make_preprocessor(spec, categorical="onehot", scale=True, text_features=100)
        cls = KerasClassifierModel if spec.is_classification else KerasRegressorModel
        model = cls(
            hypermodel=self.hypermodel if config.family == "custom" else None,
            hp_values=values,
            class_weight=None if weight == "none" else weight,
            device=device,
            n_jobs=n_jobs,
            random_state=seed,
        )
        return with_preprocessing(pre, model)


register(KerasAdapter, aliases=("tensorflow", "tf", "tf.keras"))
