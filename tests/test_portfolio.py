"""The warm-start portfolio: the shipped data validates, configs fit the spec, selection is right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.portfolio import greedy_portfolio, leave_one_out, normalise, portfolio_score
from recommender import profile_dataset
from search_spaces import FeatureSpec, adapter_names, get_adapter
from search_spaces import _portfolio as pf
from search_spaces.sklearn_adapter import KNN_MAX_ROWS
from tests.conftest import make_frame


def _numeric_frame(task: str, n: int = 120) -> tuple[pd.DataFrame, pd.Series, FeatureSpec]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 5, size=n).astype(float)})
    signal = X["a"] + 0.3 * X["b"]
    if task == "regression":
        y = signal + rng.normal(scale=0.1, size=n)
    elif task == "binary":
        y = (signal > signal.median()).astype(int)
    else:
        y = pd.qcut(signal, 3, labels=[0, 1, 2]).astype(int)
    spec = profile_dataset(pd.concat([X, y.rename("y")], axis=1), "y", task=task).feature_spec()
    return X, y, spec


def _spec_with_categoricals(task: str) -> FeatureSpec:
    df = make_frame(task)
    spec = profile_dataset(df, "y").feature_spec()
    assert spec.categorical or spec.boolean
    return spec


# ---------------------------------------------------------------------------------------------
# The shipped portfolio.json


def test_shipped_portfolio_loads_and_names_registered_frameworks() -> None:
    doc = pf.load_portfolio()
    assert doc["format_version"] == pf.FORMAT_VERSION
    assert {"command", "date", "excluded", "cv_folds", "rows_cap"} <= set(doc["mining"])
    assert set(doc["groups"]) == {"classification", "regression"}
    for group, entries in doc["groups"].items():
        assert entries, group
        for e in entries:
            assert e["framework"] in adapter_names(), e
            assert 0.0 <= e["mean_normalised_score"] <= 1.0
    # No development-suite dataset (or its PMLB twin) was mined.
    mined = {d for ds in doc["mining"]["datasets"].values() for d in ds}
    assert not mined & {"iris", "phoneme", "wdbc", "german", "adult", "537_houses", "mfeat_factors"}


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_shipped_entries_build_and_a_couple_fit(task: str) -> None:
    X, y, spec = _numeric_frame(task)
    entries = pf.load_portfolio()["groups"][pf.task_group(spec)]
    installed = [e for e in entries if get_adapter(e["framework"]).is_installed()]
    configs = pf.portfolio_configs(spec, adapter_names())
    assert len(configs) == len({(e["framework"], e["family"], str(e["params"])) for e in installed})
    for config in configs:
        adapter = get_adapter(config.framework)
        # Mined on all-numeric data, the params are exactly this spec's search space.
        assert set(config.params) == set(pf._space(adapter, spec, config.family))
        adapter.build(config, spec, seed=0)
    for config in configs[:2]:
        model = get_adapter(config.framework).build(config, spec, seed=0).fit(X, y)
        assert len(model.predict(X)) == len(X)


# ---------------------------------------------------------------------------------------------
# Completion against a synthetic portfolio

_XGB = {"learning_rate": 0.1, "max_depth": 4, "min_child_weight": 1.0, "subsample": 0.9,
        "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 0.01}
SYNTHETIC = {
    "format_version": pf.FORMAT_VERSION,
    "groups": {
        "classification": [
            {"framework": "xgboost", "family": "gbtree", "params": {**_XGB, "class_weight": "balanced"}},
            {"framework": "no_such_framework", "family": "x", "params": {}},
            {"framework": "sklearn", "family": "knn", "params": {"n_neighbors": 500, "weights": "distance"}},
            {"framework": "sklearn", "family": "linear", "params": {"C": 2.0, "class_weight": "none", "alpha": 3}},
            {"framework": "sklearn", "family": "mystery", "params": {}},
        ],
        "regression": [
            {"framework": "xgboost", "family": "gbtree", "params": {**_XGB, "class_weight": "balanced"}},
            {"framework": "sklearn", "family": "linear", "params": {"alpha": 2.0}},
        ],
    },
}


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pf, "load_portfolio", lambda: SYNTHETIC)


def _by_family(configs):
    return {c.family: c for c in configs}


@pytest.mark.usefixtures("synthetic")
def test_categorical_data_gets_the_default_encoding_choice() -> None:
    spec = _spec_with_categoricals("binary")
    xgb = _by_family(pf.portfolio_configs(spec, ["xgboost"]))["gbtree"]
    assert xgb.params["categorical"] == get_adapter("xgboost").default_configs(spec)[0].params["categorical"]
    assert xgb.params["class_weight"] == "balanced"  # mined value kept
    assert xgb.params["max_depth"] == 4


@pytest.mark.usefixtures("synthetic")
def test_numeric_data_gets_no_encoding_choice() -> None:
    _, _, spec = _numeric_frame("multiclass")
    xgb = _by_family(pf.portfolio_configs(spec, ["xgboost"]))["gbtree"]
    assert "categorical" not in xgb.params
    assert xgb.params["class_weight"] == "balanced"


@pytest.mark.usefixtures("synthetic")
def test_regression_drops_classification_only_params() -> None:
    for spec in (_numeric_frame("regression")[2], _spec_with_categoricals("regression")):
        configs = pf.portfolio_configs(spec, ["xgboost", "sklearn"])
        assert [c.family for c in configs] == ["gbtree", "linear"]
        xgb, linear = configs
        assert "class_weight" not in xgb.params
        assert linear.params == {"alpha": 2.0}
        assert ("categorical" in xgb.params) == bool(spec.categorical or spec.boolean)


@pytest.mark.usefixtures("synthetic")
def test_params_are_fitted_to_the_search_space() -> None:
    _, _, spec = _numeric_frame("binary")
    by = _by_family(pf.portfolio_configs(spec, ["sklearn"]))
    assert by["linear"].params == {"C": 2.0, "class_weight": "none"}  # "alpha" is not in this space
    assert by["knn"].params == {"n_neighbors": 64, "weights": "distance"}  # clipped into range


@pytest.mark.usefixtures("synthetic")
def test_frameworks_filter_order_and_skips() -> None:
    _, _, spec = _numeric_frame("binary")
    both = pf.portfolio_configs(spec, ["sklearn", "xgb", "no_such_framework"])
    assert [(c.framework, c.family) for c in both] == [("xgboost", "gbtree"), ("sklearn", "knn"),
                                                      ("sklearn", "linear")]
    assert {c.framework for c in pf.portfolio_configs(spec, ["sklearn"])} == {"sklearn"}
    assert pf.portfolio_configs(spec, []) == []
    big = FeatureSpec(task="binary", n_rows=KNN_MAX_ROWS + 1, numeric=("a",), n_classes=2)
    assert "knn" not in _by_family(pf.portfolio_configs(big, ["sklearn"]))


# ---------------------------------------------------------------------------------------------
# Selection (pure functions of a score table)


def test_normalise_anchors_the_constant_predictor_and_drops_flat_datasets() -> None:
    scores = {"d1": {"a": 0.9, "b": 0.7, "c": 0.4, "f": None}, "flat": {"a": 0.5, "b": 0.5}}
    norm = normalise(scores, {"d1": 0.5, "flat": 0.5})
    assert set(norm) == {"d1"}
    assert norm["d1"] == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.0, "f": 0.0})


def test_greedy_portfolio_picks_complements_and_respects_caps_and_cost() -> None:
    norm = {"d1": {"a": 1.0, "b": 0.0, "c": 0.5},
            "d2": {"a": 0.0, "b": 1.0, "c": 0.5},
            "d3": {"a": 0.2, "b": 0.2, "c": 0.9}}
    fw = {"a": "x", "b": "y", "c": "x"}
    # c is best alone; then a and b tie (both reach 0.8), and the cheaper wins.
    assert greedy_portfolio(norm, fw, k=2, max_per_framework=3, cost={"a": 1.0, "b": 2.0}) == ["c", "a"]
    assert greedy_portfolio(norm, fw, k=2, max_per_framework=3, cost={"a": 2.0, "b": 1.0}) == ["c", "b"]
    assert greedy_portfolio(norm, fw, k=3, max_per_framework=1) == ["c", "b"]  # one per framework
    full = greedy_portfolio(norm, fw, k=10, max_per_framework=3)
    assert len(full) == 3 and portfolio_score(norm, full) == pytest.approx((1.0 + 1.0 + 0.9) / 3)
    assert portfolio_score(norm, ["c"]) == pytest.approx((0.5 + 0.5 + 0.9) / 3)
    # Starting from what the search tries anyway, the picks complement it and leave it out.
    assert greedy_portfolio(norm, fw, k=3, max_per_framework=3, cost={"a": 1.0, "b": 2.0}, start=["c"]) == ["a", "b"]
    assert greedy_portfolio({"d1": {"a": 1.0, "b": 0.5}}, fw, k=3, max_per_framework=3, start=["a"]) == []


def test_leave_one_out_scores_each_dataset_with_a_portfolio_chosen_without_it() -> None:
    norm = {"d1": {"a": 1.0, "b": 0.0}, "d2": {"a": 1.0, "b": 0.0}, "d3": {"a": 0.0, "b": 1.0}}
    fw = {"a": "x", "b": "x"}
    # Without d3, only "a" helps, so d3 scores 0; d1 and d2 are served by "a" either way.
    lodo = leave_one_out(norm, lambda t: greedy_portfolio(t, fw, k=1, max_per_framework=1))
    assert lodo == pytest.approx(2 / 3)
