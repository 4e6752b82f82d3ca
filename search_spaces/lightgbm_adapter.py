"""LightGBM: leaf-wise gradient-boosted trees with native categoricals and early stopping (CPU)."""

from __future__ import annotations

from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec


class LightGBMAdapter(FrameworkAdapter):
    """Adapter for LightGBM's gradient-boosted trees; the search space follows FLAML's.

    GPU support is left off: the pip wheel's OpenCL/CUDA builds are separate and rarely faster
    than the CPU on the data sizes an AutoML budget allows.
    """

    name = "lightgbm"
    display_name = "LightGBM"
    distribution = "lightgbm"
    import_name = "lightgbm"
    tasks = frozenset(TASKS)
    supports_gpu = False
    relative_cost = 0.8
    iterative = True
    import_seconds = 1.2
    install_hint = "pip install 'automl-recommender[lightgbm]'"

    def families(self, spec: FeatureSpec) -> list[str]:
        return ["gbdt"]

    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        family = self.suggest_family(trial, spec)
        t = self.scoped(trial, family)
        p: dict[str, Any] = {
            "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "num_leaves": t.suggest_int("num_leaves", 4, 512, log=True),
            "min_child_samples": t.suggest_int("min_child_samples", 2, 100, log=True),
            "subsample": t.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": t.suggest_float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": t.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
            "reg_alpha": t.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        }
        if spec.categorical or spec.boolean:
            p["categorical"] = t.suggest_categorical("categorical", ["native", "onehot"])
        if spec.is_classification:
            p["class_weight"] = t.suggest_categorical("class_weight", ["none", "balanced"])
        return Config(self.name, family, p)

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        p: dict[str, Any] = {
            "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20, "subsample": 1.0,
            "colsample_bytree": 1.0, "reg_lambda": 1.0, "reg_alpha": 1e-3,
        }
        if spec.categorical or spec.boolean:
            p["categorical"] = "native"
        if spec.is_classification:
            p["class_weight"] = "none"
        return [Config(self.name, "gbdt", p)]

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        from search_spaces._lightgbm_model import LightGBMClassifierModel, LightGBMRegressorModel
        from search_spaces._preprocess import (
            make_preprocessor,
            n_categorical_outputs,
            with_preprocessing,
        )

        p = dict(config.params)
        native = p.pop("categorical", "native") == "native"
        weight = p.pop("class_weight", "none")
        if native:
            pre = make_preprocessor(spec, categorical="ordinal", impute=False, text_features=100)
            n_cat = n_categorical_outputs(spec)
        else:
            pre = make_preprocessor(spec, categorical="onehot", impute=False, text_features=100)
            n_cat = 0
        cls = LightGBMClassifierModel if spec.is_classification else LightGBMRegressorModel
        model = cls(
            class_weight=None if weight == "none" else weight,
            n_categorical=n_cat,
            n_jobs=n_jobs,
            random_state=seed,
            **p,
        )
        return with_preprocessing(pre, model)


register(LightGBMAdapter, aliases=("lgbm", "lgb"))
