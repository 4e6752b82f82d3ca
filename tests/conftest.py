"""Shared fixtures: tiny generated frames for each task, and the dev suite when it is present."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

if TYPE_CHECKING:
    from automl import AutoMLResult

DEV_SUITE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "dev"


def make_frame(task: str, n: int = 160, seed: int = 0) -> pd.DataFrame:
    """Numeric, categorical (with missing values), boolean and datetime columns, and a target."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(-1, 1, size=n)
    cat = rng.choice(["red", "green", "blue"], size=n)
    df = pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "colour": pd.Series(cat, dtype=object),
            "flag": rng.random(n) > 0.5,
            "when": pd.date_range("2020-01-01", periods=n, freq="D"),
        }
    )
    df.loc[df.index[::17], "colour"] = None
    df.loc[df.index[::13], "x2"] = np.nan
    signal = 2 * x1 + (cat == "red") - x2
    return with_target(df, signal, task, rng)


def with_target(df: pd.DataFrame, signal: np.ndarray, task: str, rng: np.random.Generator) -> pd.DataFrame:
    """Add ``y`` made from ``signal``: noisy values, a median split ("yes"/"no") or three bins."""
    if task == "regression":
        df["y"] = signal + rng.normal(scale=0.3, size=len(df))
    elif task == "binary":
        df["y"] = np.where(signal > np.median(signal), "yes", "no")
    else:
        df["y"] = pd.cut(signal, 3, labels=["low", "mid", "high"]).astype(str)
    return df


@pytest.fixture(params=["binary", "multiclass", "regression"])
def task(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def frame(task: str) -> pd.DataFrame:
    return make_frame(task)


@pytest.fixture(scope="session")
def binary_search() -> tuple[AutoMLResult, pd.DataFrame]:
    """One small search over scikit-learn and XGBoost, shared by every test that only reads it.

    Session-scoped, so the autouse ``_one_cv_draw`` does not reach it: it asks for one CV draw itself.
    A test that changes the result works on ``dataclasses.replace(result, ...)``.
    """
    import automl

    df = make_frame("binary", n=200)
    result = automl.fit(
        df, "y", time_budget=30, n_trials=8, seed=0, frameworks=["sklearn", "xgboost"], verbosity=0,
        search_options={"cv_repeats": 1},
    )
    return result, df


@pytest.fixture
def dev_suite() -> Path:
    if not (DEV_SUITE / "manifest.json").exists():
        pytest.skip(f"the development suite is not at {DEV_SUITE} (shared/ is absent on this machine)")
    return DEV_SUITE


#: Frameworks whose tests run in the slow lane: importing TensorFlow alone takes 4-7 s.
SLOW_FRAMEWORKS = frozenset({"keras", "autokeras"})
#: Fixtures whose tests run in the slow lane (a PostgreSQL server).
SLOW_FIXTURES = frozenset({"postgres_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow lane (``make test-slow``) by rule, besides the tests marked ``slow`` by hand: every
    test parametrized with a TensorFlow framework, and every test that needs PostgreSQL."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        uses_tensorflow = any(isinstance(v, str) and v in SLOW_FRAMEWORKS for v in params.values())
        if uses_tensorflow or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _quiet_logs() -> None:
    logging.getLogger("automl").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def _no_gpu_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost model's assumed GPU figures, whatever `make gpu-check` left in this user's cache."""
    monkeypatch.setenv("AUTOML_GPU_CALIBRATION", "none")


@pytest.fixture(autouse=True)
def _one_cv_draw(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches in tests draw 5-fold cross-validation once, not CV5_REPEATS times: the same code
    paths at a third of the cost. tests/test_resampling.py tests the repeats themselves; a test
    marked ``cv_repeats`` keeps the default."""
    if request.node.get_closest_marker("cv_repeats") is None:
        monkeypatch.setattr("automl._run.CV5_REPEATS", 1)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL (with its password) of a PostgreSQL server started once for the session; see tests/_postgres.py.

    Skipped with the reason where PostgreSQL is absent and cannot be installed, except under CI
    (the ``CI`` environment variable set), where that is an error.
    """
    from tests._postgres import PostgresServer, PostgresUnavailable

    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required when CI is set: {e}", pytrace=False)
        pytest.skip(f"no PostgreSQL server: {e}")
    try:
        yield server.url
    finally:
        server.stop()
