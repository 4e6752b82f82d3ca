"""LightGBM and CatBoost wrappers: what the shared conformance suite does not check."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender import profile_dataset
from search_spaces import fit_budget, get_adapter
from search_spaces._base import Config
from search_spaces._boosting import MIN_EARLY_STOPPING_ROWS
from tests.conftest import make_frame, with_target


def _fit(framework: str, task: str = "binary", df: pd.DataFrame | None = None, **params):
    pytest.importorskip(framework)
    df = make_frame(task) if df is None else df
    spec = profile_dataset(df, "y").feature_spec()
    adapter = get_adapter(framework)
    base = adapter.default_configs(spec)[0]
    est = adapter.build(Config(framework, base.family, {**base.params, **params}), spec, seed=0)
    X = df[list(spec.columns)]
    return est.fit(X, df["y"]), X, spec


def _colour_only_frame(n: int = 200) -> pd.DataFrame:
    """The target depends on a categorical column alone (with missing values)."""
    rng = np.random.default_rng(1)
    colour = pd.Series(rng.choice(["red", "green", "blue", "grey"], size=n), dtype=object)
    df = pd.DataFrame({"colour": colour, "x": rng.normal(size=n)})
    df.loc[df.index[::9], "colour"] = None
    signal = np.isin(colour, ["red", "grey"]) + rng.normal(scale=0.01, size=n)
    return with_target(df, signal, "binary", rng)


@pytest.mark.parametrize("framework", ["lightgbm", "catboost"])
def test_native_categoricals_reach_the_framework(framework: str) -> None:
    model, X, _ = _fit(framework, df=_colour_only_frame())
    est = model[-1]
    assert est.n_categorical == 1
    if framework == "lightgbm":
        tree = est.booster_.dump_model()["tree_info"][0]["tree_structure"]
        assert tree["split_feature"] == 0 and tree["decision_type"] == "=="  # a categorical split
    else:
        assert est.model_.get_cat_feature_indices() == [0]
    assert (model.predict(X) == _colour_only_frame()["y"]).mean() > 0.85


@pytest.mark.parametrize("framework", ["lightgbm", "catboost"])
def test_onehot_option_passes_no_categoricals(framework: str) -> None:
    model, X, spec = _fit(framework, categorical="onehot")
    assert model[-1].n_categorical == 0
    assert model[-1].n_features_in_ > len(spec.columns) - len(spec.datetime)


@pytest.mark.parametrize("framework", ["lightgbm", "catboost"])
def test_expired_deadline_truncates_to_a_few_rounds(framework: str) -> None:
    pytest.importorskip(framework)
    df = make_frame("binary")
    spec = profile_dataset(df, "y").feature_spec()
    adapter = get_adapter(framework)
    est = adapter.build(adapter.default_configs(spec)[0], spec)
    with fit_budget(deadline=time.monotonic() - 1):
        est.fit(df[list(spec.columns)], df["y"])
    assert est[-1].truncated_ and est[-1].best_iteration_ <= 2


@pytest.mark.parametrize("framework", ["lightgbm", "catboost"])
def test_early_stopping_keeps_the_best_round(framework: str) -> None:
    df = make_frame("regression", n=MIN_EARLY_STOPPING_ROWS)
    model, _, _ = _fit(framework, "regression", df=df, learning_rate=0.3)
    est = model[-1]
    assert not est.truncated_ and 1 <= est.best_iteration_ < 200


@pytest.mark.parametrize("framework", ["lightgbm", "xgboost", "catboost"])
def test_small_data_runs_a_fixed_number_of_rounds(framework: str) -> None:
    """Below MIN_EARLY_STOPPING_ROWS a 10% split would choose the rounds on a handful of rows."""
    model, _, _ = _fit(framework, "regression", df=make_frame("regression", n=MIN_EARLY_STOPPING_ROWS - 1),
                       learning_rate=0.3)
    assert model[-1].best_iteration_ == 200


def test_lightgbm_maps_threads_and_seed() -> None:
    pytest.importorskip("lightgbm")
    from search_spaces._lightgbm_model import LightGBMClassifierModel, LightGBMRegressorModel

    p = LightGBMClassifierModel(n_jobs=3, random_state=7, subsample=0.8)._params(n_classes=3)
    assert (p["num_threads"], p["seed"], p["objective"], p["num_class"]) == (3, 7, "multiclass", 3)
    assert (p["subsample"], p["subsample_freq"]) == (0.8, 1)
    assert LightGBMRegressorModel(n_jobs=-1)._params(0)["num_threads"] == 0  # OpenMP's default: all cores


def test_catboost_maps_threads_seed_and_gpu() -> None:
    pytest.importorskip("catboost")
    from search_spaces._catboost_model import CatBoostClassifierModel

    cpu = CatBoostClassifierModel(n_jobs=2, random_state=5, colsample_bylevel=0.5)._params(2, 100)
    assert (cpu["thread_count"], cpu["random_seed"], cpu["loss_function"], cpu["rsm"]) == (2, 5, "Logloss", 0.5)
    assert cpu["allow_writing_files"] is False and cpu["logging_level"] == "Silent" and "task_type" not in cpu
    gpu = CatBoostClassifierModel(device="cuda", n_jobs=-1)._params(3, 100)
    assert (gpu["task_type"], gpu["devices"], gpu["thread_count"]) == ("GPU", "0", -1)
    assert gpu["loss_function"] == "MultiClass" and "rsm" not in gpu  # rsm is CPU-only


def test_catboost_on_cuda_passes_gpu_settings_and_no_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here: the CatBoost class records what it was given, then trains on the CPU."""
    catboost = pytest.importorskip("catboost")
    from search_spaces import _catboost_model

    seen: dict = {}

    class Recording(catboost.CatBoostClassifier):
        def __init__(self, **params):
            seen["params"] = dict(params)
            params.pop("task_type", None), params.pop("devices", None)
            super().__init__(**params)

        def fit(self, *args, **kwargs):
            seen["fit"] = dict(kwargs)
            return super().fit(*args, **kwargs)

    fake = type(sys)("catboost")
    fake.Pool, fake.CatBoostClassifier = catboost.Pool, Recording
    monkeypatch.setattr(_catboost_model, "_import_catboost", lambda: fake)
    df = make_frame("binary")
    spec = profile_dataset(df, "y").feature_spec()
    adapter = get_adapter("catboost")
    est = adapter.build(adapter.default_configs(spec)[0], spec, device="cuda").fit(df[list(spec.columns)], df["y"])
    assert seen["params"]["task_type"] == "GPU" and "callbacks" not in seen["fit"]
    assert est.predict_proba(df[list(spec.columns)]).shape == (len(df), 2)


def test_catboost_writes_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    monkeypatch.chdir(tmp_path)
    _fit("catboost", "multiclass")
    assert not any(tmp_path.iterdir()), "CatBoost wrote files (catboost_info/?)"
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.mark.parametrize("framework", ["lightgbm", "catboost"])
def test_missing_package_gives_an_install_hint(framework: str, monkeypatch: pytest.MonkeyPatch) -> None:
    df = make_frame("binary")
    spec = profile_dataset(df, "y").feature_spec()
    adapter = get_adapter(framework)
    est = adapter.build(adapter.default_configs(spec)[0], spec)
    monkeypatch.setitem(sys.modules, framework, None)  # as if not installed
    with pytest.raises(ImportError, match=rf"needs the {framework} package.*automl-recommender\[{framework}\]"):
        est.fit(df[list(spec.columns)], df["y"])


@pytest.mark.parametrize("framework", ["lightgbm", "catboost"])
def test_native_save_load_gives_identical_predictions(framework: str, task: str, tmp_path: Path) -> None:
    model, X, _ = _fit(framework, task)
    est = model[-1]
    est.save_native(tmp_path / "est")
    loaded = type(est).load_native(tmp_path / "est")
    Z = model[0].transform(X)
    np.testing.assert_array_equal(loaded.predict(Z), est.predict(Z))
    if task != "regression":
        np.testing.assert_array_equal(loaded.predict_proba(Z), est.predict_proba(Z))
        assert list(loaded.classes_) == list(est.classes_)
    assert loaded.get_params() == est.get_params()
