"""AutoKeras structured-data search as one more candidate, named ``autokeras``.

How it fits the study: each Optuna trial runs one *bounded inner AutoKeras search* (``max_trials``
inner models of at most ``max_epochs`` epochs, both chosen by the Optuna trial) that respects the
trial's deadline. Why not drive AutoKeras' hypermodel through the KerasTuner bridge like the
``keras`` adapter: AutoKeras builds its graph from blocks whose hyper-parameters are declared in
its own tuner's order and are re-declared per block during preprocessing adaptation, and AutoKeras
3.0 exposes no stable public API to build one model from a given set of values. A bounded inner
search keeps AutoKeras' own strength (its task-specific tuner tries the strongest known
architectures first) while the outer study decides how much search effort it deserves, and the
deadline keeps it inside the time budget.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec
from search_spaces.keras_adapter import KerasAdapter


class AutoKerasAdapter(FrameworkAdapter):
    name = "autokeras"
    display_name = "AutoKeras"
    distribution = "autokeras"
    import_name = "autokeras"
    tasks = frozenset(TASKS)
    supports_gpu = True
    relative_cost = 12.0
    iterative = True
    import_seconds = 6.5
    install_hint = "pip install 'automl-recommender[tensorflow]'"
    network = True
    warmup_steps = 5
    batch_overhead_seconds = 0.004
    prior_score = 0.42
    colour = "#9467bd"
    # Its models hold AutoKeras' own preprocessing layers, which tf2onnx does not convert.
    onnx_converter = None

    @classmethod
    def gpu_build(cls, version: str, dists: set[str]) -> tuple[bool, str]:
        """AutoKeras runs on TensorFlow: the same CUDA libraries decide."""
        return KerasAdapter.gpu_build(version, dists)

    @classmethod
    def is_installed(cls) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in ("autokeras", "tensorflow", "keras_tuner"))

    def families(self, spec: FeatureSpec) -> list[str]:
        return ["structured"]

    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        family = self.suggest_family(trial, spec)
        t = self.scoped(trial, family)
        params = {
            "max_trials": t.suggest_int("max_trials", 1, 3),
            "max_epochs": t.suggest_int("max_epochs", 10, 60, log=True),
        }
        return Config(self.name, family, params)

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        return [Config(self.name, "structured", {"max_trials": 1, "max_epochs": 30})]

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        import numpy as np

        from search_spaces._autokeras_model import AutoKerasClassifierModel, AutoKerasRegressorModel
        from search_spaces._preprocess import make_preprocessor, with_preprocessing

        pre = make_preprocessor(spec, categorical="onehot", scale=True, text_features=100, dtype=np.float32)
        cls = AutoKerasClassifierModel if spec.is_classification else AutoKerasRegressorModel
        return with_preprocessing(pre, cls(device=device, n_jobs=n_jobs, random_state=seed, **config.params))


register(AutoKerasAdapter, aliases=("ak",))
