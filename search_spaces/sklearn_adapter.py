"""scikit-learn: regularised linear models, forests, histogram gradient boosting, k-NN."""

from __future__ import annotations

from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec, RankingFacts

#: k-NN predicts by scanning the training rows, so it is only searched on small data.
KNN_MAX_ROWS = 20_000
#: Histogram gradient boosting bins features into at most 255 values; more categories go ordinal.
HGB_MAX_CATEGORIES = 250


def _weight(value: str) -> str | None:
    return None if value == "none" else value


class SklearnAdapter(FrameworkAdapter):
    """Adapter for scikit-learn's estimators; every family uses the preprocessing it needs."""

    name = "sklearn"
    display_name = "scikit-learn"
    distribution = "scikit-learn"
    import_name = "sklearn"
    tasks = frozenset(TASKS)
    supports_gpu = False
    relative_cost = 1.0
    iterative = True
    install_hint = "pip install scikit-learn"
    prior_score = 0.60
    colour = "#1f77b4"
    onnx_converter = "sklearn"
    baseline_family = "hgb"  # histogram gradient boosting's defaults: the search's first trial

    def score_rules(self, facts: RankingFacts) -> list[tuple[float, str]]:
        n, p = facts.n_rows, facts.n_features
        rules = [(0.0, "searches linear models, forests, histogram boosting and k-NN in one space")]
        if n < 1_000:
            rules.append((0.08, f"only {n:,} rows: regularised linear models and forests are robust and cheap to "
                                "cross-validate"))
        if p >= 100 and n < 5_000:
            rules.append((0.04, f"{p} features for {n:,} rows: regularised linear models handle wide data well"))
        if facts.n_text:
            rules.append((0.05, f"{facts.n_text} free-text column(s): linear models on TF-IDF features suit text"))
        if n >= 1_000_000:
            rules.append((-0.05, f"{n:,} rows: forests and k-NN grow slow; only histogram boosting scales"))
        return rules

    def families(self, spec: FeatureSpec) -> list[str]:
        fams = ["hgb", "rf", "extra_trees", "linear"]
        if spec.n_rows <= KNN_MAX_ROWS:
            fams.append("knn")
        return fams

    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        family = self.suggest_family(trial, spec)
        t = self.scoped(trial, family)
        clf = spec.is_classification
        p: dict[str, Any] = {}
        if family == "linear":
            if clf:
                p["C"] = t.suggest_float("C", 1e-3, 1e3, log=True)
            else:
                p["alpha"] = t.suggest_float("alpha", 1e-3, 1e3, log=True)
        elif family in ("rf", "extra_trees"):
            p["n_estimators"] = t.suggest_int("n_estimators", 50, 500, log=True)
            p["max_features"] = t.suggest_float("max_features", 0.1, 1.0)
            p["min_samples_leaf"] = t.suggest_int("min_samples_leaf", 1, 32, log=True)
        elif family == "hgb":
            p["learning_rate"] = t.suggest_float("learning_rate", 0.01, 0.3, log=True)
            p["max_leaf_nodes"] = t.suggest_int("max_leaf_nodes", 4, 128, log=True)
            p["min_samples_leaf"] = t.suggest_int("min_samples_leaf", 2, 100, log=True)
            p["l2_regularization"] = t.suggest_float("l2_regularization", 1e-6, 10.0, log=True)
            p["max_features"] = t.suggest_float("max_features", 0.3, 1.0)
        elif family == "knn":
            p["n_neighbors"] = t.suggest_int("n_neighbors", 1, 64, log=True)
            p["weights"] = t.suggest_categorical("weights", ["uniform", "distance"])
        else:
            raise ValueError(f"unknown scikit-learn family {family!r}")
        # Not for "hgb": scikit-learn 1.9 bins weighted samples ~40x slower (1.5 s for 340 rows,
        # at every warm-started stage), which turned one trial into 40 s on breast_cancer.
        if clf and family in ("linear", "rf", "extra_trees"):
            p["class_weight"] = t.suggest_categorical("class_weight", ["none", "balanced"])
        return Config(self.name, family, p)

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        clf = spec.is_classification
        weight = {"class_weight": "none"} if clf else {}
        hgb = {"learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
               "l2_regularization": 1e-6, "max_features": 1.0}
        rf = {"n_estimators": 200, "max_features": 0.5 if not clf else 0.3, "min_samples_leaf": 1, **weight}
        linear = {"C": 1.0, **weight} if clf else {"alpha": 1.0}
        # Cheapest first after the baseline: a linear model takes a fraction of a forest's time.
        return [Config(self.name, "hgb", hgb), Config(self.name, "linear", linear), Config(self.name, "rf", rf)]

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        from search_spaces import _staged
        from search_spaces._preprocess import (
            make_preprocessor,
            n_categorical_outputs,
            with_preprocessing,
        )

        p = dict(config.params)
        if "class_weight" in p:
            p["class_weight"] = _weight(p["class_weight"])
        clf = spec.is_classification
        family = config.family
        if family == "linear":
            pre = make_preprocessor(spec, categorical="onehot", scale=True, dense=False, text_features=2000)
            model: Any = (
                LogisticRegression(C=p["C"], class_weight=p.get("class_weight"), max_iter=500)
                if clf else Ridge(alpha=p["alpha"])
            )
        elif family in ("rf", "extra_trees"):
            pre = make_preprocessor(spec, categorical="ordinal", impute=True, text_features=100)
            cls = _staged.StagedForestClassifier if clf else _staged.StagedForestRegressor
            model = cls(kind=family, n_jobs=n_jobs, random_state=seed, **p)
        elif family == "hgb":
            pre = make_preprocessor(spec, categorical="ordinal", impute=False, text_features=100)
            n_cat = n_categorical_outputs(spec)
            cats = list(spec.categorical + spec.boolean)
            # Columns with more categories than HGB can bin stay as ordinal numbers.
            mask = [spec.cardinality.get(c, 0) <= HGB_MAX_CATEGORIES for c in cats]
            cat_idx = [i for i in range(n_cat) if mask[i]] or None
            cls = _staged.StagedHGBClassifier if clf else _staged.StagedHGBRegressor
            model = cls(categorical_features=cat_idx, random_state=seed, **p)
        elif family == "knn":
            pre = make_preprocessor(spec, categorical="onehot", scale=True, text_features=200)
            cls = KNeighborsClassifier if clf else KNeighborsRegressor
            k = min(p["n_neighbors"], max(1, spec.n_rows // 2))
            model = cls(n_neighbors=k, weights=p["weights"], n_jobs=n_jobs)
        else:
            raise ValueError(f"unknown scikit-learn family {family!r}")
        return with_preprocessing(pre, model)


register(SklearnAdapter, aliases=("scikit-learn", "skl"))
