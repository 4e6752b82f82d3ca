"""XGBoost: gradient-boosted trees with native categoricals, early stopping, and CUDA when chosen."""

from __future__ import annotations

from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec


class XGBoostAdapter(FrameworkAdapter):
    """Adapter for XGBoost's gradient-boosted trees (``hist`` method, CPU or CUDA)."""

    name = "xgboost"
    display_name = "XGBoost"
    distribution = "xgboost"
    import_name = "xgboost"
    tasks = frozenset(TASKS)
    supports_gpu = True
    relative_cost = 1.3
    iterative = True
    import_seconds = 1.4
    install_hint = "pip install xgboost"

    def families(self, spec: FeatureSpec) -> list[str]:
        return ["gbtree"]

    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        family = self.suggest_family(trial, spec)
        t = self.scoped(trial, family)
        p: dict[str, Any] = {
            "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_depth": t.suggest_int("max_depth", 2, 10),
            "min_child_weight": t.suggest_float("min_child_weight", 0.1, 20.0, log=True),
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
            "learning_rate": 0.1, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
            "colsample_bytree": 1.0, "reg_lambda": 1.0, "reg_alpha": 1e-3,
        }
        if spec.categorical or spec.boolean:
            p["categorical"] = "native"
        if spec.is_classification:
            p["class_weight"] = "none"
        return [Config(self.name, "gbtree", p)]

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        from search_spaces._preprocess import (
            make_preprocessor,
            n_categorical_outputs,
            with_preprocessing,
        )
        from search_spaces._xgboost_model import XGBoostClassifierModel, XGBoostRegressorModel

        p = dict(config.params)
        native = p.pop("categorical", "native") == "native"
        weight = p.pop("class_weight", "none")
        if native:
            pre = make_preprocessor(spec, categorical="ordinal", impute=False, text_features=100)
            n_cat = n_categorical_outputs(spec)
        else:
            pre = make_preprocessor(spec, categorical="onehot", impute=False, text_features=100)
            n_cat = 0
        cls = XGBoostClassifierModel if spec.is_classification else XGBoostRegressorModel
        model = cls(
            class_weight=None if weight == "none" else weight,
            n_categorical=n_cat,
            device=device,
            n_jobs=n_jobs,
            random_state=seed,
            **p,
        )
        return with_preprocessing(pre, model)


register(XGBoostAdapter, aliases=("xgb",))
