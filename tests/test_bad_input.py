"""Bad input: a clear error naming the argument or column and the fix, raised before training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl
from automl import InputError
from search_spaces import get_adapter
from tests.conftest import make_frame


@pytest.fixture
def df() -> pd.DataFrame:
    return make_frame("binary", n=80)


@pytest.fixture(autouse=True)
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any of these errors must come before a single trial starts."""
    from automl.search import _search

    def refuse(self):
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr(_search.Search, "run", refuse)


def _fails(df, target="y", match=None, exc=InputError, **kwargs):
    before = df.copy() if isinstance(df, pd.DataFrame) else None
    with pytest.raises(exc, match=match):
        automl.fit(df, target, **{"time_budget": 5, **kwargs})
    if before is not None:
        pd.testing.assert_frame_equal(df, before)


def test_target_not_a_column(df) -> None:
    _fails(df, target="Y", match=r"target='Y' is not a column.*did you mean 'y'")


def test_empty_frame(df) -> None:
    _fails(df.iloc[:0], match="empty")


def test_only_the_target(df) -> None:
    _fails(df[["y"]], match="only the target column 'y'")


def test_single_class_target(df) -> None:
    _fails(df.assign(y="yes"), match="single value")


def test_target_entirely_missing(df) -> None:
    _fails(df.assign(y=np.nan), match="entirely missing")


def test_non_dataframe_input(df) -> None:
    _fails(df.to_numpy(), exc=TypeError, match="must be a pandas DataFrame")


def test_duplicate_column_names(df) -> None:
    dup = pd.concat([df, df[["x1"]]], axis=1)
    _fails(dup, match=r"duplicate column names \['x1'\]")


def test_infinite_values(df) -> None:
    bad = df.copy()
    bad.loc[3, "x1"] = np.inf
    _fails(bad, match=r"\['x1'\] contain infinite values")


@pytest.mark.parametrize("budget", [0, -5, float("nan"), "60"])
def test_bad_time_budget(df, budget) -> None:
    _fails(df, time_budget=budget, match="time_budget must be a positive number")


def test_unknown_framework(df) -> None:
    _fails(df, frameworks=["sklearn", "catboostx"], match="unknown framework 'catboostx'")


def test_unknown_metric(df) -> None:
    _fails(df, metric="roc_aucc", match="did you mean 'roc_auc'")


def test_metric_for_another_task(df) -> None:
    _fails(df, metric="rmse", match="does not fit a binary task")
    _fails(make_frame("regression"), metric="roc_auc", match="does not fit a regression task")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_trials": 0}, "n_trials"),
        ({"task": "ranking"}, "task must be one of"),
        ({"device": "tpu"}, "device must be one of"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"seed": -1}, "seed"),
        ({"task": "binary", "target": "x1"}, "task='binary'"),
    ],
)
def test_bad_arguments(df, kwargs, match) -> None:
    target = kwargs.pop("target", "y")
    _fails(df, target=target, match=match, **kwargs)


def test_requested_framework_not_installed_is_excluded(df, monkeypatch: pytest.MonkeyPatch) -> None:
    cls = type(get_adapter("xgboost"))
    monkeypatch.setattr(cls, "is_installed", classmethod(lambda c: False))
    rec = automl.recommend(df, "y", frameworks=["sklearn", "xgboost"])
    assert rec.frameworks == ["sklearn"]
    assert "not installed" in rec.excluded[0].reason
    _fails(df, frameworks=["xgboost"], match="no requested framework can run here.*xgboost: not installed")


def test_every_feature_dropped(df) -> None:
    _fails(pd.DataFrame({"const": 1, "y": df["y"]}), match="no usable feature column")


def test_rows_with_missing_target_are_dropped_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from automl.search import _search

    monkeypatch.undo()  # this one trains
    df = make_frame("binary", n=120)
    df.loc[df.index[:7], "y"] = None
    before = df.copy()
    with pytest.warns(UserWarning, match="dropped 7 of 120 rows whose target 'y' is missing"):
        r = automl.fit(df, "y", time_budget=5, n_trials=1)
    pd.testing.assert_frame_equal(df, before)
    assert r.profile.n_rows == 113
    assert any("7 rows" in m for m in r.messages)
    assert _search.Search.run is not None
