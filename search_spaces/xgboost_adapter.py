"""XGBoost: gradient-boosted trees with native categoricals, early stopping, and CUDA when chosen."""

from __future__ import annotations

from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._boosting import build_booster, default_options, suggest_options
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec, RankingFacts


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
    prior_score = 0.62
    colour = "#ff7f0e"
    onnx_converter = "xgboost"

    @classmethod
    def gpu_build(cls, version: str, dists: set[str]) -> tuple[bool, str]:
        if "xgboost-cpu" in dists:
            return False, "xgboost-cpu is a CPU-only build"
        return True, "the xgboost wheel is built with CUDA"

    def score_rules(self, facts: RankingFacts) -> list[tuple[float, str]]:
        n, p, f = facts.n_rows, facts.n_features, facts
        rules = [(0.0, "gradient-boosted trees are the strongest default on tabular data")]
        if f.categorical_share >= 0.3:
            rules.append((0.05, f"{f.n_categorical} of {p} columns are categorical: native categorical splits"))
        if f.missing_ratio >= 0.02:
            rules.append((0.03, f"{f.missing_ratio:.1%} missing cells: learns a default direction for missing values"))
        if n >= 100_000:
            rules.append((0.05, f"{n:,} rows: multi-threaded histogram boosting scales well"))
        if n < 1_000:
            rules.append((-0.05, f"only {n:,} rows: boosted trees overfit easily; simpler models often match them"))
        if f.gpu_usable and f.gpu_pays:
            rules.append((0.05, "a usable GPU makes each trial several times faster"))
        return rules

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
