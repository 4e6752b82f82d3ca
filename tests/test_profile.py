"""Dataset profiling: kinds, missing values, task inference, classes, sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender import infer_task, profile_dataset
from recommender.profile import SAMPLE_ROWS
from tests.conftest import make_frame


def _kinds(df: pd.DataFrame, target: str = "y") -> dict[str, str]:
    return {c.name: c.kind for c in profile_dataset(df, target).columns}


def test_column_kinds_and_actions() -> None:
    n = 300
    rng = np.random.default_rng(0)
    words = ["the quick brown fox", "jumps over the lazy dog", "lorem ipsum dolor sit amet", "a b c d"]
    df = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "cat": rng.choice(["a", "b", "c"], size=n),
            "flag": rng.random(n) > 0.5,
            "when": pd.date_range("2021-01-01", periods=n, freq="h"),
            "when_str": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "note": [f"{rng.choice(words)} number {i} with several extra words" for i in range(n)],
            "customer_id": np.arange(n),
            "uuid": [f"u-{i:08d}" for i in range(n)],
            "const": 7,
            "empty": np.nan,
            "y": rng.integers(0, 2, size=n),
        }
    )
    prof = profile_dataset(df, "y")
    kinds = {c.name: c.kind for c in prof.columns}
    assert kinds == {
        "num": "numeric", "cat": "categorical", "flag": "boolean", "when": "datetime",
        "when_str": "datetime", "note": "text", "customer_id": "identifier", "uuid": "identifier",
        "const": "constant", "empty": "empty",
    }
    dropped = prof.dropped
    assert set(dropped) == {"customer_id", "uuid", "const", "empty"}
    assert all(reason for reason in dropped.values())
    spec = prof.feature_spec()
    assert spec.text == ("note",) and set(spec.datetime) == {"when", "when_str"}
    assert "customer_id" not in spec.columns


def test_missing_ratios_and_size() -> None:
    df = make_frame("binary", n=170)
    prof = profile_dataset(df, "y")
    col = {c.name: c for c in prof.columns}
    assert col["colour"].missing_ratio == pytest.approx(10 / 170, abs=1e-6)
    assert col["x1"].missing_ratio == 0
    assert 0 < prof.missing_ratio < 0.1
    assert prof.memory_mb > 0
    assert prof.n_rows == 170 and prof.n_features == 5


@pytest.mark.parametrize(
    "values, expected",
    [
        (["a", "b"] * 50, "binary"),
        ([0, 1] * 50, "binary"),
        (["a", "b", "c"] * 50, "multiclass"),
        ([1, 2, 3, 4] * 50, "multiclass"),
        (list(np.linspace(0, 1, 200)), "regression"),
        (list(range(200)), "regression"),
    ],
)
def test_task_inference(values: list, expected: str) -> None:
    assert infer_task(pd.Series(values))[0] == expected


def test_explicit_task_overrides() -> None:
    df = pd.DataFrame({"x": range(200), "y": [1, 2, 3, 4] * 50})
    prof = profile_dataset(df, "y", task="regression")
    assert prof.task == "regression" and prof.task_reason == "set by the caller"


def test_class_counts_and_imbalance() -> None:
    df = pd.DataFrame({"x": range(100), "y": ["a"] * 90 + ["b"] * 10})
    prof = profile_dataset(df, "y")
    assert prof.class_counts == {"a": 90, "b": 10}
    assert prof.imbalance_ratio == pytest.approx(9.0)


def test_large_frames_are_sampled_and_say_so() -> None:
    n = SAMPLE_ROWS + 50_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abcdef"), size=n), "y": rng.integers(0, 2, n)})
    df.loc[::10, "x"] = np.nan
    prof = profile_dataset(df, "y")
    assert prof.approximate
    assert {c.name: c.missing_ratio for c in prof.columns}["x"] == pytest.approx(0.1, abs=1e-5)  # exact
    assert "estimated on a sample" in prof.summary()


def test_profile_does_not_modify_input() -> None:
    df = make_frame("multiclass")
    before = df.copy()
    profile_dataset(df, "y")
    pd.testing.assert_frame_equal(df, before)


def test_html_repr() -> None:
    html = profile_dataset(make_frame("binary"), "y")._repr_html_()
    assert "<table" in html and "colour" in html
