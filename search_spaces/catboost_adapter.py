"""CatBoost: oblivious gradient-boosted trees with ordered target statistics for categoricals."""

from __future__ import annotations

import platform
from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._boosting import build_booster, default_options, suggest_options
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec, RankingFacts


class CatBoostAdapter(FrameworkAdapter):
    """Adapter for CatBoost (CPU, or ``task_type="GPU"`` on CUDA); silent and writes no files."""

    name = "catboost"
    display_name = "CatBoost"
    distribution = "catboost"
    import_name = "catboost"
    tasks = frozenset(TASKS)
    supports_gpu = True
    relative_cost = 2.5
    iterative = True
    import_seconds = 0.6
    install_hint = "pip install 'automl-recommender[catboost]'"
    prior_score = 0.60
    colour = "#e377c2"
    onnx_converter = "catboost"

    @classmethod
    def gpu_build(cls, version: str, dists: set[str]) -> tuple[bool, str]:
        if platform.system() == "Darwin":
            return False, "catboost's macOS wheels are CPU-only"
        return True, "the catboost wheel (Linux, Windows) is built with CUDA"

    def score_rules(self, facts: RankingFacts) -> list[tuple[float, str]]:
        n, p, f = facts.n_rows, facts.n_features, facts
        rules = [(0.0, "ordered boosting on oblivious trees: robust defaults, slower per trial than the others")]
        high_card = f.high_cardinality(10)
        if f.categorical_share >= 0.3:
            rules.append((0.07, f"{f.n_categorical} of {p} columns are categorical: ordered target statistics "
                                "handle them well"))
        elif high_card:
            rules.append((0.04, f"{high_card} high-cardinality categorical column(s): target statistics suit them"))
        if n < 1_000:
            rules.append((-0.03, f"only {n:,} rows: ordered boosting overfits less than other boosters, but simpler "
                                 "models often match it"))
        if n >= 100_000 and not f.gpu_usable:
            rules.append((-0.04, f"{n:,} rows on the CPU: several times slower per trial than LightGBM or XGBoost"))
        if f.gpu_usable and f.gpu_pays:
            rules.append((0.05, "a usable GPU makes each trial several times faster"))
        return rules

    def families(self, spec: FeatureSpec) -> list[str]:
        return ["oblivious"]

    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        family = self.suggest_family(trial, spec)
        t = self.scoped(trial, family)
        p: dict[str, Any] = {
            "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "depth": t.suggest_int("depth", 3, 10),
            "l2_leaf_reg": t.suggest_float("l2_leaf_reg", 0.5, 30.0, log=True),
            "random_strength": t.suggest_float("random_strength", 0.1, 10.0, log=True),
            "bagging_temperature": t.suggest_float("bagging_temperature", 0.0, 1.0),
            "colsample_bylevel": t.suggest_float("colsample_bylevel", 0.3, 1.0),
        }
        suggest_options(t, spec, p)
        return Config(self.name, family, p)

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        # CatBoost's own defaults, which are robust, with a faster learning rate for small budgets.
        p: dict[str, Any] = {
            "learning_rate": 0.1, "depth": 6, "l2_leaf_reg": 3.0, "random_strength": 1.0,
            "bagging_temperature": 1.0, "colsample_bylevel": 1.0,
        }
        default_options(spec, p)
        return [Config(self.name, "oblivious", p)]

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        from search_spaces._catboost_model import CatBoostClassifierModel, CatBoostRegressorModel

        return build_booster(
            config.params, spec, CatBoostClassifierModel, CatBoostRegressorModel,
            device=device, n_jobs=n_jobs, random_state=seed,
        )


register(CatBoostAdapter, aliases=("cb",))
