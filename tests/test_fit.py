"""End-to-end ``automl.fit`` on tiny data with tiny budgets."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl import AutoMLResult
from tests.conftest import make_frame


@pytest.fixture
def binary_result(binary_search: tuple[AutoMLResult, pd.DataFrame]) -> AutoMLResult:
    return binary_search[0]


def test_result_fields(binary_result: AutoMLResult) -> None:
    r = binary_result
    assert r.best_framework in r.recommendation.frameworks
    assert r.best_model_family and isinstance(r.best_params, dict)
    assert np.isfinite(r.best_score) and r.metric.name == "roc_auc"
    assert r.recommendation.frameworks and r.profile.n_rows == 200 and r.hardware.logical_cores >= 1
    assert "Best:" in r.summary() and "<table" in r._repr_html_()


def test_leaderboard_has_both_frameworks_and_one_row_per_trial(binary_result: AutoMLResult) -> None:
    board = binary_result.leaderboard
    assert {"framework", "model", "params", "score", "fit_seconds", "state", "failure_reason"} <= set(board.columns)
    assert {"sklearn", "xgboost"} <= set(board.framework) <= set(binary_result.recommendation.frameworks)
    assert len(board) == len(binary_result.study.trials)
    complete = board[board.state == "COMPLETE"]
    assert complete.score.is_monotonic_decreasing
    # The top row is the study's best trial, whether or not an ensemble of trials won.
    best = binary_result.study.best_trial
    assert (complete.trial.iloc[0], complete.score.iloc[0]) == (best.number, pytest.approx(best.value))
    if binary_result.ensemble:  # an ensemble's score is its own (out-of-fold rows pooled); its members are trials
        assert {m["trial"] for m in binary_result.ensemble} <= set(complete.trial)
        assert sum(m["weight"] for m in binary_result.ensemble) == pytest.approx(1.0, abs=1e-3)
    else:
        assert complete.score.iloc[0] == pytest.approx(binary_result.best_score)
    assert (complete.fit_seconds > 0).all()


def test_baseline_runs_first(binary_result: AutoMLResult) -> None:
    first = binary_result.study.trials[0]
    assert (first.params["framework"], first.user_attrs["family"]) == ("sklearn", "hgb")


def test_predict_and_proba_use_original_labels(binary_result: AutoMLResult) -> None:
    df = make_frame("binary", n=50, seed=1)
    pred = binary_result.predict(df)
    assert set(pred.unique()) <= {"yes", "no"} and pred.index.equals(df.index)
    proba = binary_result.predict_proba(df)
    assert list(proba.columns) == ["no", "yes"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    # Extra columns, including the target, are ignored; order does not matter.
    shuffled = df[df.columns[::-1]].assign(extra=1)
    pd.testing.assert_series_equal(binary_result.predict(shuffled), pred)


def test_predict_with_missing_column_names_it(binary_result: AutoMLResult) -> None:
    df = make_frame("binary", n=20).drop(columns=["x1"])
    with pytest.raises(automl.InputError, match="x1"):
        binary_result.predict(df)


@pytest.mark.slow
def test_regression_and_multiclass() -> None:
    reg = automl.fit(make_frame("regression"), "y", time_budget=30, n_trials=4)
    assert reg.task == "regression" and reg.metric.display_name == "root_mean_squared_error"
    assert reg.best_metric_value > 0
    with pytest.raises(automl.InputError, match="classification"):
        reg.predict_proba(make_frame("regression"))
    multi = automl.fit(make_frame("multiclass"), "y", time_budget=30, n_trials=4)
    assert multi.metric.name == "neg_log_loss"
    assert list(multi.predict_proba(make_frame("multiclass")).columns) == ["high", "low", "mid"]


def test_n_trials_and_frameworks_restrict_the_search() -> None:
    r = automl.fit(make_frame("binary"), "y", time_budget=20, n_trials=3, frameworks=["xgboost"])
    assert len(r.leaderboard) == 3 and set(r.leaderboard.framework) == {"xgboost"}
    assert r.recommendation.frameworks == ["xgboost"]


def test_custom_metric() -> None:
    r = automl.fit(make_frame("binary"), "y", time_budget=30, n_trials=2, metric="accuracy")
    assert r.metric.name == "accuracy" and 0 <= r.best_score <= 1


@pytest.mark.slow
def test_same_seed_gives_same_trials() -> None:
    """The documented recipe for repeatable trials holds even when the machine gets busier."""
    import subprocess
    import sys

    df = make_frame("binary")
    kwargs = {"time_budget": 30, "n_trials": 6, "seed": 5, "n_jobs": 1, "search_options": {"allocation": "sampler"}}
    a = automl.fit(df, "y", **kwargs)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        b = automl.fit(df, "y", **kwargs)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    pa = [t.params for t in a.study.trials]
    assert pa == [t.params for t in b.study.trials]
    assert len({p["framework"] for p in pa}) >= 2  # the sampler chose among frameworks
    # The clock shapes two kinds of trial: one its deadline cut short (truncated: it scored the folds
    # it reached) and a network's (its learning-rate schedule fits the epochs the time leaves room
    # for). Every other trial scores the same.
    def whole(r: automl.AutoMLResult) -> dict[int, float]:
        return {t.number: t.value for t in r.study.trials
                if not t.user_attrs.get("truncated") and t.params["framework"] not in ("torch", "keras", "autokeras")}

    same = whole(a).keys() & whole(b).keys()
    assert len(same) >= 4
    np.testing.assert_allclose([whole(a)[n] for n in sorted(same)], [whole(b)[n] for n in sorted(same)])


def test_failed_trials_are_recorded_and_the_search_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from search_spaces import xgboost_adapter

    def boom(self, *args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(xgboost_adapter.XGBoostAdapter, "build", boom)
    r = automl.fit(make_frame("binary"), "y", time_budget=30, n_trials=6, frameworks=["sklearn", "xgboost"])
    failed = r.leaderboard[r.leaderboard.state == "FAIL"]
    assert len(failed) >= 1 and failed.failure_reason.str.contains("simulated crash").all()
    assert r.best_framework == "sklearn"


def test_a_budget_too_small_for_any_trial_still_returns_a_model() -> None:
    r = automl.fit(make_frame("binary"), "y", time_budget=0.01)
    assert r.best_model_family == "constant"
    assert any("constant" in m for m in r.messages)
    assert len(r.predict(make_frame("binary", n=5))) == 5


def test_pruned_trials_are_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    from automl.search import _search

    class PruneAll(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return True

    monkeypatch.setattr(_search.optuna.pruners, "SuccessiveHalvingPruner", lambda **kw: PruneAll())
    from search_spaces._boosting import MIN_EARLY_STOPPING_ROWS

    df = make_frame("binary", n=int(1.5 * MIN_EARLY_STOPPING_ROWS))  # folds large enough for boosters to report
    r = automl.fit(df, "y", time_budget=10, n_trials=3, frameworks=["xgboost"])
    assert len(r.study.trials) >= 1 and len(r.leaderboard) == len(r.study.trials)  # trials ran, each has a row
    assert (r.leaderboard.state == "PRUNED").all()
    assert all(t.intermediate_values for t in r.study.trials)
    assert r.best_model_family == "constant"


def test_optuna_storage_is_used(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    r = automl.fit(make_frame("binary"), "y", time_budget=10, n_trials=2, storage=url)
    loaded = optuna.load_study(study_name=r.study.study_name, storage=url)
    assert len(loaded.trials) == 2


def test_fit_logs_progress(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="automl"):
        automl.fit(make_frame("binary"), "y", time_budget=30, n_trials=2, verbosity=2)
    assert any("trial 0 sklearn/hgb" in m for m in caplog.messages)


@pytest.mark.slow
def test_scikit_learn_estimators() -> None:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    clf = automl.AutoMLClassifier(time_budget=30, n_trials=2).fit(X, y)
    assert clf.predict_proba(X).shape == (150, 3) and list(clf.classes_) == [0, 1, 2]
    assert clf.score(X, y) > 0.8
    reg = automl.AutoMLRegressor(time_budget=30, n_trials=2).fit(X[:, :3], X[:, 3])
    assert reg.result_.task == "regression" and reg.score(X[:, :3], X[:, 3]) > 0.5


def test_non_string_column_names() -> None:
    df = make_frame("binary").rename(columns={"x1": 0, "x2": 1})
    r = automl.fit(df, "y", time_budget=30, n_trials=2)
    assert {"0", "1"} <= set(r.feature_columns)
    assert len(r.predict(df)) == len(df) and list(df.columns[:2]) == [0, 1]
