"""Run directories: save/load round trips per framework, checksums, schema checks on predict."""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl.io import RunDirectoryError, load_model, save_model
from recommender import profile_dataset
from search_spaces import get_adapter
from tests.conftest import make_frame

#: What each framework's estimator is saved as, beside the fitted preprocessing (never a pickle).
NATIVE_FILES = {
    "sklearn": ("estimator.skops",),
    "xgboost": ("model.ubj", "model.json"),
    "lightgbm": ("model.txt", "model.json"),
    "catboost": ("model.cbm", "model.json"),
    "torch": ("model.pt", "model.json"),
    "keras": ("model.keras", "model.json"),
}
FRAMEWORK_MODULES = {"torch": "torch", "keras": "tensorflow", "lightgbm": "lightgbm", "catboost": "catboost"}


@functools.cache
def _fitted(task: str, frameworks: tuple[str, ...], n_trials: int) -> tuple[automl.AutoMLResult, pd.DataFrame]:
    df = make_frame(task, n=160)
    result = automl.fit(
        df, "y", time_budget=30, n_trials=n_trials, frameworks=list(frameworks), verbosity=0,
        search_options={"cv_repeats": 1},  # also when a module-scoped fixture asks first
    )
    return result, df


def _fit(task: str, frameworks: list[str], n_trials: int = 3) -> tuple[automl.AutoMLResult, pd.DataFrame]:
    """A search shared by the tests of this module that ask for the same one (none changes it)."""
    return _fitted(task, tuple(frameworks), n_trials)


def _same_predictions(a: automl.AutoMLResult, b: automl.AutoMLResult, df: pd.DataFrame) -> None:
    pd.testing.assert_series_equal(a.predict(df), b.predict(df))
    if a.task != "regression":
        pd.testing.assert_frame_equal(a.predict_proba(df), b.predict_proba(df))


@pytest.mark.parametrize("framework", ["sklearn", "xgboost", "lightgbm", "catboost", "torch", "keras"])
def test_model_round_trip_gives_identical_predictions(framework: str, task: str, tmp_path: Path) -> None:
    """Each framework's model format, on the pipeline its adapter builds (a search adds nothing here)."""
    if framework in FRAMEWORK_MODULES:
        pytest.importorskip(FRAMEWORK_MODULES[framework])
    adapter = get_adapter(framework)
    df = make_frame(task, n=160)
    spec = profile_dataset(df, "y").feature_spec()
    model = adapter.build(adapter.default_configs(spec)[0], spec, seed=0)
    if "model__max_epochs" in model.get_params():
        model.set_params(model__max_epochs=3)
    X = df[list(spec.columns)]
    model.fit(X, df["y"])
    layout = save_model(model, tmp_path / "model")
    assert layout["kind"] == "pipeline"
    names = {p.name for p in (tmp_path / "model").rglob("*")}
    assert {"preprocess.skops", *NATIVE_FILES[framework]} <= names, names
    assert not any(n.endswith((".pkl", ".pickle", ".joblib")) for n in names), names
    loaded = load_model(tmp_path / "model", layout)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if task != "regression":
        np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6, atol=1e-7)


def test_run_directory_round_trip_gives_identical_predictions(task: str, tmp_path: Path) -> None:
    result, df = _fit(task, ["sklearn"])
    saved = result.save(tmp_path / "run")
    loaded = automl.load(saved)
    assert loaded.best_framework == result.best_framework == "sklearn"
    assert loaded.task == result.task and loaded.feature_columns == result.feature_columns
    assert loaded.best_score == pytest.approx(result.best_score)
    _same_predictions(result, loaded, df)
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["versions"]["python"] and "scikit-learn" in manifest["versions"]
    assert manifest["best"]["framework"] == "sklearn" and manifest["model"]["kind"] in ("pipeline", "ensemble")
    assert len(manifest["leaderboard"]) == len(result.leaderboard)
    assert {c["name"] for c in manifest["schema"]["columns"]} == set(result.feature_columns)
    colour = next(c for c in manifest["schema"]["columns"] if c["name"] == "colour")
    assert colour["kind"] == "categorical" and colour["categories"] == ["blue", "green", "red"]
    assert not list(tmp_path.glob(".run*")), "no temporary directory left behind"


def test_ensemble_round_trip(tmp_path: Path) -> None:
    from automl.search._ensemble import WeightedEnsemble

    result, df = _fit("binary", ["sklearn"])
    members = [result.best_model] * 2 if not isinstance(result.best_model, WeightedEnsemble) else None
    if members is not None:  # make sure an ensemble is what gets saved (on a copy: the search is shared)
        ensemble = WeightedEnsemble(members=members, weights=[0.5, 0.5]).fit(df[result.feature_columns], df.y)
        result = dataclasses.replace(result, best_model=ensemble)
    loaded = automl.load(result.save(tmp_path / "run"))
    assert isinstance(loaded.best_model, WeightedEnsemble)
    _same_predictions(result, loaded, df)


def test_study_is_saved_for_optuna(tmp_path: Path) -> None:
    result, _ = _fit("regression", ["sklearn"])
    loaded = automl.load(result.save(tmp_path / "run"))
    assert loaded.study is not None and len(loaded.study.trials) == 3
    assert loaded.study.best_value == pytest.approx(result.study.best_value)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, automl.AutoMLResult, pd.DataFrame]:
    result, df = _fit("binary", ["sklearn"])
    path = result.save(tmp_path_factory.mktemp("runs") / "run")
    return path, result, df


def _copy(saved: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(saved, dst)
    return dst


def test_tampered_model_file_is_refused(saved_run: tuple, tmp_path: Path) -> None:
    run = _copy(saved_run[0], tmp_path)
    target = next((run / "model").rglob("*.skops"))
    target.write_bytes(target.read_bytes() + b"x")
    with pytest.raises(RunDirectoryError, match="does not match its checksum"):
        automl.load(run)


def test_missing_file_is_refused(saved_run: tuple, tmp_path: Path) -> None:
    run = _copy(saved_run[0], tmp_path)
    next((run / "model").rglob("*.skops")).unlink()
    with pytest.raises(RunDirectoryError, match="is missing"):
        automl.load(run)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: "{not json", "not valid JSON"),
        (lambda m: json.dumps({**m, "format": "other"}), "not an automl run manifest"),
        (lambda m: json.dumps({**m, "format_version": 99}), "newer automl"),
        (lambda m: json.dumps({**m, "files": {"../outside.txt": "0"}}), "outside the run directory"),
        (lambda m: json.dumps({**m, "files": {}}), "lists no files"),
    ],
)
def test_damaged_manifest_is_refused(saved_run: tuple, tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    run = _copy(saved_run[0], tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(edit(manifest))
    with pytest.raises(RunDirectoryError, match=message):
        automl.load(run)


def test_foreign_type_in_skops_file_is_refused(saved_run: tuple, tmp_path: Path) -> None:
    """A skops file holding a type outside the allow-list is refused even with matching checksums."""
    import skops.io as sio

    from automl.io._run_dir import MANIFEST, sha256

    run = _copy(saved_run[0], tmp_path)
    target = next((run / "model").rglob("estimator.skops"), None) or next((run / "model").rglob("*.skops"))
    sio.dump({"payload": pd.Timestamp("2020-01-01")}, target)
    manifest = json.loads((run / MANIFEST).read_text())
    manifest["files"][target.relative_to(run).as_posix()] = sha256(target)
    (run / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(RunDirectoryError, match="does not load"):
        automl.load(run)


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="does not exist"):
        automl.load(tmp_path / "nowhere")
    with pytest.raises(RunDirectoryError, match="has no manifest.json"):
        automl.load(tmp_path)


def test_save_refuses_to_overwrite_and_overwrites_when_asked(saved_run: tuple, tmp_path: Path) -> None:
    _, result, df = saved_run
    target = tmp_path / "run"
    result.save(target)
    with pytest.raises(automl.InputError, match="already exists"):
        result.save(target)
    result.save(target, overwrite=True)
    _same_predictions(result, automl.load(target), df)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_failed_save_leaves_nothing(saved_run: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import automl.io._run_dir as run_dir

    _, result, _ = saved_run

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(run_dir, "_save_study", broken)
    with pytest.raises(OSError, match="disk full"):
        result.save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


# -- the input schema at predict time ---------------------------------------------------------------
def test_reordered_and_extra_columns_are_fine(saved_run: tuple) -> None:
    path, result, df = saved_run
    loaded = automl.load(path)
    shuffled = df[list(reversed(df.columns))].assign(extra=1.0)
    pd.testing.assert_series_equal(loaded.predict(shuffled), result.predict(df))


def test_missing_column_is_named(saved_run: tuple) -> None:
    loaded = automl.load(saved_run[0])
    with pytest.raises(automl.InputError, match=r"\['x1'\].*missing"):
        loaded.predict(saved_run[2].drop(columns=["x1", "y"]))


def test_retyped_numeric_column(saved_run: tuple) -> None:
    _, result, df = saved_run
    as_text = df.assign(x1=df["x1"].astype(str))
    original = df.copy()
    pd.testing.assert_series_equal(result.predict(as_text), result.predict(df))  # numbers as strings convert
    words = df.assign(x1=["abc"] * len(df))
    with pytest.raises(automl.InputError, match="'x1' was numeric"):
        result.predict(words)
    pd.testing.assert_frame_equal(df, original)


def test_unseen_category_is_handled(saved_run: tuple) -> None:
    _, result, df = saved_run
    pred = result.predict(df.assign(colour="purple"))
    assert pred.notna().all() and set(pred) <= {"yes", "no"}
    # The colour carries a small part of the signal: an unseen level still leaves the labels mostly right.
    assert (pred == df["y"]).mean() >= 0.75


def test_predict_needs_a_frame(saved_run: tuple) -> None:
    with pytest.raises(automl.InputError, match="DataFrame"):
        saved_run[1].predict(np.zeros((3, 3)))
