"""The conformance suite every framework adapter passes, on tiny data."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.base import clone

from recommender import profile_dataset
from search_spaces import FrameworkAdapter, adapter_names, fit_budget, get_adapter, register
from search_spaces._base import Config
from search_spaces._boosting import MIN_EARLY_STOPPING_ROWS
from tests.conftest import make_frame

ADAPTERS = [n for n in adapter_names() if get_adapter(n).is_installed()]
#: Networks train for a few epochs only here: the suite checks behaviour, not quality.
TEST_EPOCHS = 3


def _build(adapter: FrameworkAdapter, config: Config, spec, seed: int = 0):
    est = adapter.build(config, spec, seed=seed)
    if "model__max_epochs" in est.get_params():
        est.set_params(model__max_epochs=TEST_EPOCHS)
    return est


def _data(task: str):
    df = make_frame(task)
    prof = profile_dataset(df, "y")
    spec = prof.feature_spec()
    return df[list(spec.columns)], df["y"], spec


def _all_configs(adapter: FrameworkAdapter, spec) -> list[Config]:
    """The defaults plus a few random points of the space (fewer for slow-to-train networks)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    configs = list(adapter.default_configs(spec))
    for _ in range(1 if adapter.network else 6):
        trial = study.ask()
        configs.append(adapter.suggest(trial, spec))
        study.tell(trial, 0.0)
    return configs


@pytest.mark.parametrize("name", ADAPTERS)
def test_metadata_is_complete(name: str) -> None:
    meta = get_adapter(name).metadata()
    assert meta["name"] == name
    assert set(meta["tasks"]) <= {"binary", "multiclass", "regression"} and meta["tasks"]
    assert meta["relative_cost"] > 0
    assert isinstance(meta["supports_gpu"], bool)


@pytest.mark.parametrize("name", ADAPTERS)
def test_fits_and_predicts_every_family(name: str, task: str) -> None:
    adapter = get_adapter(name)
    X, y, spec = _data(task)
    families_seen = set()
    for config in _all_configs(adapter, spec):
        est = _build(adapter, config, spec)
        fitted = clone(est).fit(X, y)
        families_seen.add(config.family)
        pred = fitted.predict(X)
        assert len(pred) == len(X)
        if task == "regression":
            assert np.isfinite(pred.astype(float)).all()
        else:
            assert set(pd.unique(pred)) <= set(y.unique())
            proba = fitted.predict_proba(X)
            assert proba.shape == (len(X), y.nunique())
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
            assert list(fitted.classes_) == sorted(y.unique())
        # scikit-learn contract: parameters round-trip through get_params / clone.
        assert clone(est).get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert families_seen


@pytest.mark.parametrize("name", ADAPTERS)
def test_search_space_runs_on_fixed_trial(name: str) -> None:
    adapter = get_adapter(name)
    _, _, spec = _data("binary")
    for config in adapter.default_configs(spec):
        replay = adapter.suggest(optuna.trial.FixedTrial(config.trial_params()), spec)
        assert replay == config


@pytest.mark.parametrize("name", ADAPTERS)
def test_fit_is_reproducible(name: str) -> None:
    adapter = get_adapter(name)
    X, y, spec = _data("binary")
    config = adapter.default_configs(spec)[0]
    a = _build(adapter, config, spec, seed=3).fit(X, y).predict_proba(X)
    b = _build(adapter, config, spec, seed=3).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("name", ADAPTERS)
def test_expired_deadline_still_returns_a_model(name: str) -> None:
    adapter = get_adapter(name)
    X, y, spec = _data("binary")
    for config in adapter.default_configs(spec):
        est = _build(adapter, config, spec)
        with fit_budget(deadline=time.monotonic() - 1):
            est.fit(X, y)
        assert len(est.predict(X)) == len(X)


BOOSTERS = [("xgboost", "gbtree"), ("sklearn", "hgb"), ("lightgbm", "gbdt"), ("catboost", "oblivious")]


def test_iterative_learners_report_and_can_be_pruned() -> None:
    for name, family in BOOSTERS:
        adapter = get_adapter(name)
        if not adapter.is_installed():
            continue
        df = make_frame("binary", n=MIN_EARLY_STOPPING_ROWS)  # boosters validate (and report) from this size on
        spec = profile_dataset(df, "y").feature_spec()
        config = next(c for c in adapter.default_configs(spec) if c.family == family)
        reports: list[tuple[int, float]] = []

        def report(step: int, value: float, reports: list = reports) -> None:
            reports.append((step, value))
            raise optuna.TrialPruned("stop")

        est = adapter.build(config, spec)
        with pytest.raises(optuna.TrialPruned), fit_budget(report=report):
            est.fit(df[list(spec.columns)], df["y"])
        assert reports and reports[0][1] < 0  # a negated loss: higher is better


def test_registry_rejects_a_name_clash() -> None:
    class Clash(FrameworkAdapter):
        name = "xgboost"

    with pytest.raises(ValueError, match="already registered"):
        register(Clash)  # type: ignore[type-abstract]


def test_unknown_framework_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="known frameworks: .*sklearn"):
        get_adapter("lightgbm-nope")


def test_aliases_resolve() -> None:
    assert get_adapter("scikit-learn").name == "sklearn"
    assert get_adapter("XGB").name == "xgboost"


def test_missing_indicators_only_for_columns_missing_in_enough_rows() -> None:
    """A flag set on one training row lets a linear model memorise that row's label."""
    from sklearn.linear_model import LogisticRegression

    from search_spaces._preprocess import MIN_INDICATOR_ROWS, make_preprocessor, with_preprocessing

    rng = np.random.default_rng(0)
    n = 200
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = pd.Series(np.where(X["a"] > 0, "yes", "no"))
    X.loc[0, ["a", "b", "c"]] = np.nan  # one row with everything missing
    X.loc[1 : MIN_INDICATOR_ROWS, "c"] = np.nan  # "c" missing in enough rows (with row 0) for a flag
    spec = profile_dataset(X.assign(y=y), "y").feature_spec()
    pre = make_preprocessor(spec, categorical="onehot", scale=True)
    out = pre.fit_transform(X)
    imputer = pre.named_transformers_["num"][1]
    assert list(imputer.get_feature_names_out(["a", "b", "c"])) == ["a", "b", "c", "missingindicator_c"]
    assert out.shape == (n, 4) and not np.isnan(out).any()
    np.testing.assert_array_equal(out[:, 3] > 0, X["c"].isna().to_numpy())  # scaled flags
    # The model cannot single out the all-missing row any more: it gets the median row's odds.
    model = with_preprocessing(make_preprocessor(spec, categorical="onehot", scale=True), LogisticRegression())
    proba = model.fit(X, y).predict_proba(X.iloc[[0]])[0]
    assert 0.2 < proba[1] < 0.8


@pytest.mark.parametrize("name", [n for n in ("keras", "torch") if n in ADAPTERS])
def test_network_preprocessing_stays_in_float32(name: str) -> None:
    """On a million rows the networks' one-hot matrix in float64 (2.3 GB), then a float32 copy of it,
    took the scale benchmark's peak to 9.6 GB; built in float32 it is half, with no copy."""
    from search_spaces._preprocess import make_preprocessor

    X, y, spec = _data("binary")
    adapter = get_adapter(name)
    for config in adapter.default_configs(spec):
        out = adapter.build(config, spec)[0].fit_transform(X, y)
        assert out.dtype == np.float32, config.family
    # The same numbers as in float64, to float32's precision (numbers are rounded before scaling).
    for categorical in ("onehot", "ordinal"):
        wide = make_preprocessor(spec, categorical=categorical, scale=True).fit_transform(X)
        narrow = make_preprocessor(spec, categorical=categorical, scale=True, dtype=np.float32).fit_transform(X)
        assert wide.dtype == np.float64 and narrow.dtype == np.float32
        np.testing.assert_allclose(narrow, wide, rtol=1e-5, atol=1e-5)


def test_categories_become_strings_with_missing_values_as_their_own_level() -> None:
    from search_spaces._preprocess import MISSING, _as_strings

    frame = pd.DataFrame({
        "mixed": pd.Series(["a", 1, None, 2.5, "a"], dtype=object),
        "flag": pd.Series([True, False, None, True, True], dtype=object),
        "coded": pd.Categorical(["b", "a", None, "b", "a"]),
        "nullable": pd.Series([1, 2, None, 1, 2], dtype="Int64"),
    })
    out = _as_strings(frame)
    assert out.dtype == object and out.shape == (5, 4)
    assert out[:, 0].tolist() == ["a", "1", MISSING, "2.5", "a"]
    assert out[:, 1].tolist() == ["True", "False", MISSING, "True", "True"]
    assert out[:, 2].tolist() == ["b", "a", MISSING, "b", "a"]
    assert out[:, 3].tolist() == ["1", "2", MISSING, "1", "2"]
    assert out[0, 0] is out[4, 0]  # one string per level, shared by its rows


def test_datetime_parts_saved_before_they_had_a_dtype_still_transform() -> None:
    from search_spaces._preprocess import DatetimeParts

    frame = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=3, freq="D")})
    old = DatetimeParts().fit(frame)
    del old.dtype  # as loaded from a run directory saved before the networks' float32 pipelines
    assert old.transform(frame).dtype == np.float64
    assert DatetimeParts(np.float32).fit(frame).transform(frame).dtype == np.float32
