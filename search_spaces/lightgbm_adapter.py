"""LightGBM: leaf-wise gradient-boosted trees with native categoricals and early stopping (CPU)."""

from __future__ import annotations

from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._boosting import build_booster, default_options, suggest_options
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec, RankingFacts


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
    prior_score = 0.61
    colour = "#8c564b"
    onnx_converter = "lightgbm"

    def score_rules(self, facts: RankingFacts) -> list[tuple[float, str]]:
        n, p, f = facts.n_rows, facts.n_features, facts
        rules = [(0.0, "leaf-wise gradient-boosted trees: usually the fastest booster per trial on CPU")]
        if n >= 100_000:
            rules.append((0.06, f"{n:,} rows: histogram, leaf-wise boosting is fast at this size"))
        if p >= 100:
            rules.append((0.03, f"{p} features: feature bundling and column sampling keep wide data fast"))
        if f.categorical_share >= 0.3:
            rules.append((0.03, f"{f.n_categorical} of {p} columns are categorical: native categorical splits"))
        if n < 1_000:
            rules.append((-0.06, f"only {n:,} rows: leaf-wise trees overfit small data easily"))
        return rules

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
        suggest_options(t, spec, p)
        return Config(self.name, family, p)

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        p: dict[str, Any] = {
            "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20, "subsample": 1.0,
            "colsample_bytree": 1.0, "reg_lambda": 1.0, "reg_alpha": 1e-3,
        }
        default_options(spec, p)
        return [Config(self.name, "gbdt", p)]

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        from search_spaces._lightgbm_model import LightGBMClassifierModel, LightGBMRegressorModel

        return build_booster(
            config.params, spec, LightGBMClassifierModel, LightGBMRegressorModel, n_jobs=n_jobs, random_state=seed
        )


register(LightGBMAdapter, aliases=("lgbm", "lgb"))
