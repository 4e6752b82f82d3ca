"""k-fold bags: small data's cross-validation folds kept, and medium data's in place of the holdout (issue 21)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import automl
from automl.search._bagging import BAG_MIN_TRIALS, plan_bagging
from automl.search._resampling import make_resampling
from automl.search._settings import SearchSettings
from tests.conftest import make_frame


def _recommendation(seconds_per_fit: float) -> SimpleNamespace:
    best = SimpleNamespace(seconds_per_fit=seconds_per_fit, display_name="XGBoost")
    return SimpleNamespace(candidates=(best,), best=best)


def _plan(n: int, seconds_per_fit: float, budget: float = 60.0, **settings):
    y = pd.Series(np.arange(n) % 2)
    holdout = make_resampling(y, True, 0)
    messages: list[str] = []
    s = SearchSettings(time_budget=budget, n_trials=None, seed=0, n_jobs=1, started=0.0, **settings)
    resampling, _ = plan_bagging(holdout, y, _recommendation(seconds_per_fit), s, None, messages)
    return holdout, resampling, messages


def test_medium_data_is_bagged_with_the_most_folds_that_fit_the_budget():
    _, five, messages = _plan(20_000, 0.5)  # 4 fits of 0.5 s per trial: 30 trials fit 60 s
    assert five.bagged and five.n_splits == 5 and five.stratified
    covered = np.sort(np.concatenate([va for _, va in five.splits]))
    np.testing.assert_array_equal(covered, np.arange(20_000))  # out-of-fold predictions on every row
    assert messages[0].startswith("5-fold bagging: ~30 trials of XGBoost fit the budget")
    _, three, _ = _plan(20_000, 1.2)  # 5 folds: 12.5 trials; 3 folds: 25
    assert three.bagged and three.n_splits == 3


def test_the_holdout_stays_when_too_few_bagged_trials_fit_and_says_why():
    holdout, kept, messages = _plan(20_000, 3.0)  # 3 folds: 10 trials
    assert kept is holdout and not kept.bagged
    assert f"only ~10 trials would fit the budget ({BAG_MIN_TRIALS} wanted for bagging)" in messages[0]


@pytest.mark.parametrize("rare_rows, expected_folds", [(4, 3), (9, 5), (2, None)])
def test_a_bag_has_no_more_folds_than_the_rarest_class_has_rows(rare_rows, expected_folds):
    """Every fold trains on and validates every class. Plain 5-fold once put both rows of a 2-row
    class in one validation fold: that fold's model lacked the class and every trial failed."""
    y = pd.Series(np.where(np.arange(20_000) % 2, "a", "b"))
    y.iloc[:rare_rows] = "rare"
    holdout = make_resampling(y, True, 0)
    messages: list[str] = []
    s = SearchSettings(time_budget=60.0, n_trials=None, seed=0, n_jobs=1, started=0.0)
    resampling, _ = plan_bagging(holdout, y, _recommendation(0.1), s, None, messages)
    if expected_folds is None:
        assert resampling is holdout and "a class has only 2 rows, fewer than the 3 folds" in messages[0]
        return
    assert resampling.bagged and resampling.n_splits == expected_folds
    for tr, va in resampling.splits:
        assert set(y.iloc[tr]) == set(y.iloc[va]) == {"a", "b", "rare"}


def test_a_two_row_class_on_medium_data_keeps_the_holdout_and_the_search_scores_without_it():
    """Both rows of the rare class can fall on the holdout's training side: log loss is scored with
    the task's classes, so the validation rows need not hold every class (every trial failed before)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_500, 3))
    y = np.where(X[:, 0] > 0, "a", "b").astype(object)
    y[:2] = "rare"
    df = pd.DataFrame(X, columns=list("pqr")).assign(y=y)
    r = automl.fit(df, "y", time_budget=30, n_trials=2, frameworks=["sklearn"], verbosity=0, seed=0)
    assert r.validation.startswith("stratified holdout") and "a class has only 2 rows" in " ".join(r.messages)
    assert (r.leaderboard.state == "COMPLETE").all() and list(r.predict_proba(df.head(3)).columns) == ["a", "b", "rare"]


def test_large_data_keeps_its_holdout():
    holdout, kept, messages = _plan(250_000, 0.01)
    assert kept is holdout and messages == []


@pytest.mark.parametrize("n, kept_folds", [(5_000, 3), (600, 5)])
def test_small_data_keeps_its_cross_validation_and_bags_the_first_repeats_folds(n, kept_folds):
    """Up to 10,000 rows the search cross-validates anyway: the same splits, their models kept."""
    cv, kept, _ = _plan(n, 0.01, bagging="medium")  # "medium": a refit on all rows
    assert kept is cv and not kept.bagged
    cv, bagged, messages = _plan(n, 100.0)  # the default, whatever the cost: keeping fold models costs no training
    assert bagged.bagged and bagged.splits is cv.splits and bagged.repeats == cv.repeats
    assert bagged.kept_folds == kept_folds and cv.kept_folds == 0 and messages == []
    # A network keeps every repeat's fold models (its variance is what averaging them removes).
    assert bagged.kept_models(network=False) == kept_folds and cv.kept_models(network=True) == 0
    assert bagged.kept_models(network=True) == kept_folds * bagged.repeats
    assert "no refit" in bagged.describe() and ("repeated 3 times" in bagged.describe()) == (n <= 1_000)
    isolated, kept, _ = _plan(n, 0.01, isolation="process")  # a child process sends back one model
    assert kept is isolated and not kept.bagged


def test_a_small_data_search_averages_its_fold_models_by_default_and_refits_with_medium():
    df = make_frame("binary", n=120)
    r = automl.fit(df, "y", time_budget=20, n_trials=3, frameworks=["sklearn"], verbosity=0, seed=0, ensemble=False,
                   search_options={"cv_repeats": 2})
    assert r.refit.startswith("no refit: the final model averages trial") and "5 fold models" in r.refit
    assert len(r.best_model.members) == 5
    assert r.validation.endswith("first repeat's 5 fold models, a network's all 10, no refit)")
    best = r.leaderboard.iloc[0]
    assert len(best.fold_scores) == 10  # both repeats scored; only the first one's models are kept
    np.testing.assert_allclose(r.predict_proba(df.head(7)).sum(axis=1), 1.0, atol=1e-9)
    off = automl.fit(df, "y", time_budget=20, n_trials=3, frameworks=["sklearn"], verbosity=0, seed=0,
                     ensemble=False, search_options={"cv_repeats": 2, "bagging": "medium"})
    assert off.refit.startswith("refitted on all rows") and "no refit" not in off.validation


def test_a_network_trial_on_small_data_keeps_every_repeats_fold_models():
    from search_spaces import register, unregister
    from tests.test_toy_adapter import ToyAdapter

    class ToyNetwork(ToyAdapter):
        name = "toynet"
        display_name = "Toy network"
        network = True

    register(ToyNetwork)
    try:
        r = automl.fit(make_frame("binary", n=120), "y", time_budget=20, n_trials=2, frameworks=["toynet"],
                       verbosity=0, seed=0, ensemble=False, search_options={"cv_repeats": 2})
    finally:
        unregister("toynet")
    assert len(r.best_model.members) == 10 and "10 fold models" in r.refit
    assert len(r.leaderboard.iloc[0].fold_scores) == 10


def test_a_bag_too_large_for_its_memory_is_validated_but_not_kept():
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import StratifiedKFold

    from automl.search._folds import fit_folds, model_bytes

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(300, 4)), columns=list("abcd"))
    y = pd.Series((X.a + X.b > 0).astype(int))
    splits = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    args = {"deadline": time.monotonic() + 60, "report": None, "n_threads": 1, "classes": np.array([0, 1]),
            "keep_oof": True, "metric_name": "roc_auc", "keep_models": 3}
    forest = ExtraTreesClassifier(n_estimators=20, random_state=0)
    kept = fit_folds(forest, X, y, splits, get_scorer("roc_auc"), **args)
    one = model_bytes(kept.first_model)
    assert len(kept.models) == 3 and kept.bag_refused == 0 and kept.bag_bytes == 3 * one
    # The estimate counts the trees' arrays: twice the trees, about twice the bytes.
    assert model_bytes(ExtraTreesClassifier(n_estimators=40, random_state=0).fit(X, y)) > 1.5 * one
    refused = fit_folds(forest, X, y, splits, get_scorer("roc_auc"), **args, bag_bytes_limit=2.5 * one)
    assert refused.models == [] and refused.bag_bytes == 0 and refused.bag_refused == 3 * one
    assert len(refused.scores) == 3 and refused.first_model is not None  # still validated on every fold


def test_the_weakest_trials_lose_their_bags_when_the_bags_outgrow_their_memory():
    from automl.search._best import Candidates

    c = Candidates(bag_limit=250)
    for n, value in enumerate([0.5, 0.9, 0.7]):
        c.remember(n, value, np.zeros(3), 0.1, f"sklearn/m{n}", bag=object(), bag_bytes=100)
    assert [n for n, e in c.entries.items() if e.bag is not None] == [1, 2]  # 0.5 lost its bag ...
    assert c.bag_bytes == 200 and len(c) == 3 and c.one_bag_limit == 125  # ... not its predictions
    alone = Candidates(bag_limit=50)
    alone.remember(0, 0.9, np.zeros(3), 0.1, "sklearn/rf", bag=object(), bag_bytes=100)
    assert alone.entries[0].bag is not None  # the best trial's bag stays: it is the final model


def test_a_search_whose_bags_are_too_large_refits_and_says_so(monkeypatch):
    from automl.search import _best

    monkeypatch.setattr(_best, "BAG_MEMORY_SHARE", 1e-15)  # a few bytes: no bag fits
    df = make_frame("binary", n=120)
    r = automl.fit(df, "y", time_budget=20, n_trials=3, frameworks=["sklearn"], verbosity=0, seed=0)
    assert any("fold models would hold" in m and "were not kept" in m for m in r.messages)
    assert r.refit.startswith("refitted on all rows")
    assert "no ensemble: fewer than 2 trials to combine whose fold models were kept" in r.refit
    np.testing.assert_allclose(r.predict_proba(df.head(5)).sum(axis=1), 1.0, atol=1e-9)


def test_isolated_trials_keep_the_holdout():
    holdout, kept, messages = _plan(20_000, 0.1, isolation="process")
    assert kept is holdout and "isolation='process'" in messages[0]


def test_the_decision_is_kept_in_the_spec_for_resume_and_workers():
    from automl.search._spec import RunSpec

    spec = RunSpec.from_dict({
        "target": "y", "task": "binary", "metric": "roc_auc", "frameworks": ["xgboost"], "device": "cpu", "seed": 0,
        "n_jobs": 1, "time_budget": 60.0, "n_trials": None, "options": {"ensemble": True},
        "data": {"path": None, "rows": 20_000, "fingerprint": None}, "started_epoch": 0.0, "bag_folds": 3,
    })
    assert spec.bagging_decided and spec.bag_folds == 3 and spec.to_dict()["bag_folds"] == 3
    y = pd.Series(np.arange(20_000) % 2)
    s = SearchSettings(time_budget=60.0, n_trials=None, seed=0, n_jobs=1, started=0.0)
    # Whatever the costs now, the study's decision holds.
    resampling, _ = plan_bagging(make_resampling(y, True, 0), y, _recommendation(100.0), s, spec, [])
    assert resampling.bagged and resampling.n_splits == 3


def test_bagging_is_a_search_option_that_must_be_a_bool_or_medium():
    rule = r"search_options\['bagging'\] must be one of \[True, False, 'medium'\]"
    with pytest.raises(automl.InputError, match=rule):
        automl.fit(make_frame("binary", n=60), "y", time_budget=10, search_options={"bagging": "yes"})


@pytest.fixture(scope="module")
def bagged_result():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=10_500, n_features=6, random_state=0)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(y=y)
    return df, automl.fit(df, "y", time_budget=60, n_trials=3, frameworks=["sklearn"], verbosity=0, seed=0)


@pytest.mark.slow
def test_a_bagged_search_keeps_the_fold_models_and_needs_no_refit(bagged_result, tmp_path):
    df, r = bagged_result
    assert r.validation.startswith("stratified 5-fold bagging")
    assert r.refit.startswith(("no refit: the final model averages trial", "ensemble of"))
    members = r.best_model.members
    assert len(members) % 5 == 0 and abs(sum(r.best_model.weights) - 1) < 1e-9
    proba = r.predict_proba(df.head(20))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert all(m.get("folds") == 5 for m in r.ensemble)
    assert any(m.startswith("5-fold bagging") for m in r.messages)
    # The saved run reloads to the same predictions.
    path = r.save(tmp_path / "run")
    again = automl.load(path)
    np.testing.assert_allclose(again.predict_proba(df.head(20)).to_numpy(), proba.to_numpy())
    from automl.result import member_frameworks

    frameworks = member_frameworks(r)
    assert isinstance(frameworks, list) and len(frameworks) == len(members)


@pytest.mark.slow
def test_bagging_can_be_switched_off():
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=10_500, n_features=4, random_state=0)
    df = pd.DataFrame(X, columns=list("abcd")).assign(y=y)
    r = automl.fit(df, "y", time_budget=30, n_trials=2, frameworks=["sklearn"], verbosity=0,
                   search_options={"bagging": False})
    assert r.validation.startswith("holdout") and "bagging" not in " ".join(r.messages)
