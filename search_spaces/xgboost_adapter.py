"""XGBoost: gradient-boosted trees with native categoricals, early stopping, and CUDA when chosen."""

from __future__ import annotations

from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._boosting import build_booster, default_options, suggest_options
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
        suggest_options(t, spec, p)
        return Config(self.name, family, p)

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        p: dict[str, Any] = {
            "learning_rate": 0.1, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
            "colsample_bytree": 1.0, "reg_lambda": 1.0, "reg_alpha": 1e-3,
        }
        default_options(spec, p)
        return [Config(self.name, "gbtree", p)]

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        from search_spaces._xgboost_model import XGBoostClassifierModel, XGBoostRegressorModel

        return build_booster(
            config.params, spec, XGBoostClassifierModel, XGBoostRegressorModel,
            device=device, n_jobs=n_jobs, random_state=seed,
        )


register(XGBoostAdapter, aliases=("xgb",))
