"""The bad-input matrix: malformed or hostile inputs at every entry point.

Each input gets either a correct result or a clear error (``automl.InputError``; for run directories its
subclass ``RunDirectoryError``; on the command line exit status 2 and one line on stderr) raised before
any training, naming the argument or column, the rule and the fix. The frame passed in is never
modified, and a command that fails leaves no file behind.

Covered elsewhere and not repeated here: ``tests/test_bad_input.py`` (target not a column, empty frame,
only the target, single class, all-missing target, non-DataFrame, duplicate names, infinite features,
bad budgets and arguments), ``tests/test_persistence.py`` (checksum mismatch, missing file, damaged
manifest JSON, foreign skops types, reordered/missing/retyped columns at predict) and
``tests/test_cli.py`` (missing file, unknown target, negative budget via the CLI).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import automl
from automl import InputError
from automl.cli import main
from automl.io import RunDirectoryError
from automl.io._run_dir import MANIFEST, sha256
from tests.conftest import make_frame

FAST = {"time_budget": 5, "n_trials": 2, "frameworks": ["sklearn"], "verbosity": 0, "ensemble": False}
N = 80


@pytest.fixture
def df() -> pd.DataFrame:
    return make_frame("binary", n=N)


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """The errors must come before a single trial starts."""
    from automl.search import _search

    def refuse(self: Any) -> None:
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr(_search.Search, "run", refuse)


def _fits(frame: pd.DataFrame, target: Any = "y", **kwargs: Any) -> automl.AutoMLResult:
    before = frame.copy()
    result = automl.fit(frame, target, **{**FAST, **kwargs})
    pd.testing.assert_frame_equal(frame, before)
    return result


def _fails(frame: pd.DataFrame, match: str, target: Any = "y", **kwargs: Any) -> None:
    before = frame.copy()
    with pytest.raises(InputError, match=match):
        automl.fit(frame, target, **{**FAST, **kwargs})
    pd.testing.assert_frame_equal(frame, before)


# -- automl.fit: inputs that train and give a correct result ---------------------------------------------
def test_all_nan_column_is_dropped(df: pd.DataFrame) -> None:
    r = _fits(df.assign(empty=np.nan))
    assert "empty" not in r.feature_columns and r.profile.dropped["empty"] == "every value is missing"


def test_constant_and_empty_string_columns_are_dropped(df: pd.DataFrame) -> None:
    r = _fits(df.assign(const=5, blank=""))
    assert {"const", "blank"}.isdisjoint(r.feature_columns)
    assert "one value only" in r.profile.dropped["const"] and "''" in r.profile.dropped["blank"]


def test_mixed_numbers_and_strings_column_is_categorical(df: pd.DataFrame) -> None:
    r = _fits(df.assign(mixed=pd.Series([1, "a", 2.5, "b"] * (N // 4), dtype=object)))
    assert r.feature_kinds["mixed"] == "categorical"
    assert r.predict(df.assign(mixed="unseen")).notna().all()


def test_unique_string_per_row_is_dropped_as_an_identifier(df: pd.DataFrame) -> None:
    r = _fits(df.assign(customer=[f"c-{i:05d}" for i in range(N)]))
    assert "customer" not in r.feature_columns and "identifier" in r.profile.dropped["customer"]


def test_only_datetime_features_with_a_time_zone(df: pd.DataFrame) -> None:
    frame = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=N, freq="D", tz="Europe/Paris"), "y": df["y"]})
    r = _fits(frame)
    assert r.feature_kinds == {"when": "datetime"} and len(r.predict(frame)) == N


def test_only_boolean_features(df: pd.DataFrame) -> None:
    r = _fits(df[["flag", "y"]])
    assert r.feature_kinds == {"flag": "boolean"} and set(r.predict(df)) <= {"yes", "no"}


def _few_values(values: tuple[float, float, float], n: int = N) -> pd.DataFrame:
    return make_frame("regression", n=n).assign(y=lambda d: np.select([d.y < -1, d.y < 1], values[:2], values[2]))


def test_float_target_with_few_fractional_values_is_regression() -> None:
    """Few fractional values (0.5, 1.5, 2.5) are read as a quantity; the reason says how to make them classes."""
    prof = automl.profile(_few_values((0.5, 1.5, 2.5)), "y")
    assert prof.task == "regression"
    assert prof.task_reason.endswith("convert them to text labels (df['y'].astype(str)) to treat them as classes")


def test_float_target_with_few_whole_values_is_multiclass() -> None:
    """Whole numbers (1.0, 2.0, 3.0), at most 20 of them and at most 5% of the rows, are classes."""
    frame = _few_values((1.0, 2.0, 3.0), n=60)
    r = _fits(frame)
    assert r.task == "multiclass" and list(r.classes_) == [1.0, 2.0, 3.0]
    assert set(r.predict(frame)) <= {1.0, 2.0, 3.0}


def test_extreme_imbalance_with_two_minority_rows_trains(df: pd.DataFrame) -> None:
    frame = df.assign(y=["rare" if i in (3, 40) else "common" for i in range(N)])
    r = _fits(frame)
    assert r.profile.class_counts == {"common": N - 2, "rare": 2} and list(r.predict_proba(frame).columns) == [
        "common", "rare"
    ]


def test_integer_column_names(df: pd.DataFrame) -> None:
    frame = df.set_axis([0, 1, 2, 3, 4, 5], axis=1)
    r = _fits(frame, target=5)
    assert r.feature_columns and all(isinstance(c, str) for c in r.feature_columns)
    assert set(r.predict(frame.drop(columns=5))) <= {"yes", "no"}  # same int names at predict time


def test_tuple_column_names(df: pd.DataFrame) -> None:
    frame = df.set_axis([("x", 1), ("x", 2), ("c", 1), ("f", 1), ("w", 1), ("y", 0)], axis=1)
    r = _fits(frame, target=("y", 0))
    assert "('x', 1)" in r.feature_columns and len(r.predict(frame)) == N


def test_unicode_column_names_survive_save_and_load(df: pd.DataFrame, tmp_path: Path) -> None:
    frame = df.rename(columns={"x1": "température °C", "x2": "数据", "colour": "цвет", "y": "résultat ✓"})
    r = _fits(frame, target="résultat ✓")
    loaded = automl.load(r.save(tmp_path / "run"))
    assert "数据" in loaded.feature_columns
    pd.testing.assert_series_equal(loaded.predict(frame), r.predict(frame))


def test_very_long_column_name(df: pd.DataFrame) -> None:
    name = "x" * 5000
    r = _fits(df.rename(columns={"x1": name}))
    assert name in r.feature_columns


def test_pandas_nullable_dtypes_as_features(df: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    counts = pd.array(rng.integers(0, 50, N), dtype="Int64")
    counts[::7] = pd.NA
    frame = df.assign(
        count=counts,
        ok=pd.array([True, False, None, True] * (N // 4), dtype="boolean"),
        tag=pd.array(["a", "b", None, "c"] * (N // 4), dtype="string[pyarrow]"),
    )
    r = _fits(frame)
    assert (r.feature_kinds["count"], r.feature_kinds["ok"], r.feature_kinds["tag"]) == (
        "numeric", "boolean", "categorical"
    )
    assert len(r.predict(frame)) == N


def test_nullable_boolean_target_predicts_booleans(df: pd.DataFrame) -> None:
    frame = df.assign(y=pd.array(df["y"].eq("yes"), dtype="boolean"))
    r = _fits(frame)
    assert r.predict(frame).dtype == bool and set(r.predict_proba(frame).columns) == {False, True}


def test_categorical_with_unused_categories(df: pd.DataFrame) -> None:
    frame = df.assign(
        colour=pd.Categorical(df["colour"], categories=["red", "green", "blue", "never"]),
        y=pd.Categorical(df["y"], categories=["no", "yes", "maybe"]),
    )
    r = _fits(frame)
    assert r.profile.class_counts.keys() == {"no", "yes"} and np.isfinite(r.profile.imbalance_ratio)
    assert list(r.predict_proba(frame).columns) == ["no", "yes"]


def test_rows_with_a_string_nan_label_are_a_class(df: pd.DataFrame) -> None:
    """'nan' written as text is a label like any other (only real missing values are dropped)."""
    r = _fits(df.assign(y=np.where(df["y"] == "yes", "yes", "nan")))
    assert set(r.classes_) == {"nan", "yes"}


# -- automl.fit: inputs refused before training ----------------------------------------------------------
def _single_class_row(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(y=["only-one" if i == 0 else v for i, v in enumerate(frame["y"])])


def _target_nan_but_one_class(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(y=["yes" if i % 2 else None for i in range(len(frame))])


def _as_is(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


REFUSED: list[Any] = [
    pytest.param(lambda d: d.iloc[:1], {}, r"1 row\(s\) with a target; at least 10 are needed", id="one-row-frame"),
    pytest.param(
        lambda d: pd.DataFrame(np.ones((2, 5000))).add_prefix("c").assign(y=["a", "b"]), {},
        r"2 row\(s\) with a target; at least 10", id="wide-2-rows-x-5000-columns",
    ),
    pytest.param(
        lambda d: d.assign(y=["yes"] + ["no"] * (len(d) - 1)), {},
        r"target 'y': 1 of 2 classes have a single row \('yes'\); every class needs at least 2 rows",
        id="extreme-imbalance-class-of-one-row",
    ),
    pytest.param(
        _single_class_row, {}, r"1 of 3 classes have a single row \('only-one'\).*add rows of those classes or drop",
        id="multiclass-class-of-one-row",
    ),
    pytest.param(
        lambda d: d.assign(y=[f"r{i}" for i in range(len(d))]), {}, "looks like an identifier",
        id="target-unique-per-row",
    ),
    pytest.param(
        lambda d: d.assign(y=pd.Series(["yes", 1, "no", 2.5] * (len(d) // 4), dtype=object)), {},
        r"target column 'y' mixes value types \(number, string\).*astype\(str\)", id="target-mixed-types",
    ),
    pytest.param(
        _target_nan_but_one_class, {},
        r"single value \('yes'\) in all 40 rows \(after dropping 40 rows with a missing target\)",
        id="target-nan-except-one-class", marks=pytest.mark.filterwarnings("ignore:dropped 40 of 80 rows"),
    ),
    pytest.param(
        lambda d: _few_values((0.5, 1.5, 2.5)), {"task": "multiclass"},
        r"target 'y' holds fractional numbers \(e.g. (0.5|1.5|2.5)\) but the task is multiclass.*astype\(str\)",
        id="task-multiclass-on-fractional-float-target",
    ),
    pytest.param(
        lambda d: d.assign(y=pd.date_range("2020-01-01", periods=len(d))), {},
        r"target column 'y' holds dates.*convert it to a number", id="target-datetime",
    ),
    pytest.param(
        lambda d: make_frame("regression", n=len(d)).assign(y=lambda f: f.y.where(f.index != 5, np.inf)), {},
        "target column 'y' contains infinite values", id="target-infinite",
    ),
    pytest.param(
        lambda d: pd.concat([d.iloc[:1]] * len(d), ignore_index=True), {}, "single value", id="duplicate-rows-only",
    ),
    pytest.param(
        lambda d: d.set_axis(pd.MultiIndex.from_tuples([(c, "") for c in d.columns]), axis=1), {"target": ("y", "")},
        r"MultiIndex\) column names; flatten them", id="multiindex-column-names",
    ),
    pytest.param(
        _as_is, {"target": ["y"]}, r"target must be the name of one column.*got list \['y'\]", id="target-a-list",
    ),
    pytest.param(
        lambda d: d.assign(meta=[{"id": i} for i in range(len(d))]), {},
        r"column 'meta' holds dict values \(e.g. \{'id': 0\}\).*flatten it", id="python-objects-dicts",
    ),
    pytest.param(
        lambda d: d.assign(meta=[[i, i] for i in range(len(d))]), {},
        "column 'meta' holds list values", id="python-objects-lists",
    ),
    pytest.param(
        lambda d: d.assign(wait=pd.to_timedelta(np.arange(len(d)), unit="h")), {},
        r"\['wait'\] hold durations.*dt.total_seconds\(\)", id="timedelta-column",
    ),
    pytest.param(
        lambda d: d.assign(month=pd.period_range("2020-01", periods=len(d), freq="M")), {},
        r"\['month'\] hold periods.*dt.to_timestamp\(\)", id="period-column",
    ),
    pytest.param(
        lambda d: d.assign(z=np.arange(len(d)) * 1j), {}, r"\['z'\] hold complex numbers", id="complex-column",
    ),
]


@pytest.mark.parametrize("make, kwargs, match", REFUSED)
def test_refused_before_training(
    df: pd.DataFrame, no_training: None, make: Callable[[pd.DataFrame], pd.DataFrame], kwargs: dict, match: str
) -> None:
    kwargs = dict(kwargs)
    _fails(make(df), match, target=kwargs.pop("target", "y"), **kwargs)


# -- result.predict / predict_proba ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, automl.AutoMLResult, pd.DataFrame]:
    frame = make_frame("binary", n=N)
    result = automl.fit(frame, "y", **FAST)  # ensemble=False: one pipeline, a simple layout to tamper with
    return result.save(tmp_path_factory.mktemp("runs") / "run"), result, frame


def test_predict_on_an_empty_frame_gives_an_empty_answer(saved: tuple) -> None:
    _, result, frame = saved
    empty = frame.iloc[:0]
    pred, proba = result.predict(empty), result.predict_proba(empty)
    assert len(pred) == 0 and pred.dtype == result.predict(frame).dtype
    assert proba.shape == (0, 2) and list(proba.columns) == ["no", "yes"]


def test_predict_with_infinite_values_names_the_column(saved: tuple) -> None:
    _, result, frame = saved
    bad = frame.assign(x2=frame["x2"].where(frame.index != 4, -np.inf))
    before = bad.copy()
    with pytest.raises(InputError, match=r"columns \['x2'\] contain infinite values"):
        result.predict(bad)
    pd.testing.assert_frame_equal(bad, before)


def test_predict_with_python_objects_in_a_numeric_column(saved: tuple) -> None:
    _, result, frame = saved
    with pytest.raises(InputError, match="column 'x1' was numeric .* non-numeric values"):
        result.predict_proba(frame.assign(x1=[{"v": 1}] * len(frame)))


# -- automl.load: damaged or tampered run directories ------------------------------------------------------
def _tampered(saved: tuple, tmp_path: Path, edit: Callable[[Path, dict], None]) -> Path:
    run = tmp_path / "copy"
    shutil.copytree(saved[0], run)
    manifest = json.loads((run / MANIFEST).read_text())
    edit(run, manifest)
    (run / MANIFEST).write_text(json.dumps(manifest))
    return run


def _first_estimator(m: dict) -> tuple[str, dict]:
    """The run-relative path and manifest entry of the first estimator file the model's layout names
    (the final model is often a bag or an ensemble: then its first member's)."""
    layout, base = m["model"], "model"
    while layout["kind"] == "ensemble":
        layout = layout["members"][0]
        base = f"{base}/{layout['path']}"
    return f"{base}/{layout['estimator']['path']}", layout["estimator"]


def _truncate_and_rehash(run: Path, m: dict) -> None:
    path, _ = _first_estimator(m)
    target = run / path
    target.write_bytes(target.read_bytes()[:100])
    m["files"][path] = sha256(target)  # checksums alone would not catch this


def _point_outside_the_checksums(run: Path, m: dict) -> None:
    path, spec = _first_estimator(m)
    shutil.copy(run / path, run / "unlisted.skops")
    spec["path"] = "../" * (path.count("/") - 1) + "../unlisted.skops"


def _foreign_class(run: Path, m: dict) -> None:
    _, spec = _first_estimator(m)
    spec.clear()
    spec.update({"format": "native", "class": "os.system", "path": "."})


def _symlink_outside(run: Path, m: dict) -> None:
    path, _ = _first_estimator(m)
    target = run / path
    outside = run.parent / "outside.skops"
    shutil.copy(target, outside)
    target.unlink()
    target.symlink_to(outside)


TAMPERED: list[Any] = [
    pytest.param(_truncate_and_rehash, r"could not load the run .*BadZipFile.*damaged", id="truncated-model-rehashed"),
    pytest.param(lambda r, m: m.pop("schema"), "lacks the field 'schema'", id="manifest-field-removed"),
    pytest.param(lambda r, m: m.update(task="banana"), "names task 'banana'", id="manifest-unknown-task"),
    pytest.param(
        lambda r, m: m.update(format_version="1"), "format_version '1', not an integer", id="manifest-version-text"
    ),
    pytest.param(
        _point_outside_the_checksums, r"names 'model/(member_0/\.\./)?\.\./unlisted.skops', which is not among its "
        "checksummed files",
        id="manifest-points-at-unchecked-file",
    ),
    pytest.param(_foreign_class, "refusing to load|not one of this library's", id="manifest-names-foreign-class"),
    pytest.param(_symlink_outside, "outside the run directory", id="model-file-symlinked-outside"),
]


@pytest.mark.parametrize("edit, match", TAMPERED)
def test_tampered_run_directory_is_refused(
    saved: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: Callable[[Path, dict], None], match: str
) -> None:
    import os

    def executed(*args: object) -> None:
        raise AssertionError("loading executed code named by the run directory")

    monkeypatch.setattr(os, "system", executed)
    run = _tampered(saved, tmp_path, edit)
    with pytest.raises(RunDirectoryError, match=match):
        automl.load(run)


# -- the command line and file reading ------------------------------------------------------------------------
def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # `run` writes automl-runs/ under the working directory
    make_frame("binary", n=60).to_csv(tmp_path / "ok.csv", index=False)
    return tmp_path


def _write_inputs(root: Path) -> None:
    frame = make_frame("binary", n=60)
    (root / "empty.csv").write_text("")
    (root / "header.csv").write_text("x1,x2,colour,flag,when,y\n")
    (root / "quote.csv").write_text('a,b,y\n1,"unterminated,yes\n2,3,no\n')
    (root / "ragged.csv").write_text("a,b,y\n1,2,yes\n1,2,3,no\n")
    (root / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (root / "folder.csv").mkdir()
    (root / "afile").write_text("not a folder")
    frame.to_parquet(root / "ok.parquet")
    data = (root / "ok.parquet").read_bytes()
    (root / "truncated.parquet").write_bytes(data[: len(data) // 2])


CLI_ERRORS: list[Any] = [
    pytest.param(["run", "empty.csv", "--target", "y"], "DATA file 'empty.csv' is empty", id="empty-csv"),
    pytest.param(["run", "header.csv", "--target", "y"], "has column names but no rows", id="csv-header-only"),
    pytest.param(["run", "quote.csv", "--target", "y"], "could not read 'quote.csv' as a table: .*EOF inside string",
                 id="truncated-csv-inside-quotes"),
    pytest.param(["run", "ragged.csv", "--target", "y"], "Expected 3 fields in line 3, saw 4", id="csv-ragged-rows"),
    pytest.param(["run", "binary.csv", "--target", "y"], "could not read 'binary.csv' as a table",
                 id="csv-binary-garbage"),
    pytest.param(["run", "folder.csv", "--target", "y"], "'folder.csv' is a directory, not a file",
                 id="directory-as-data"),
    pytest.param(["quick-run", "nowhere.csv", "--target", "y"], "'nowhere.csv' does not exist",
                 id="quick-run-missing-file"),
    pytest.param(["run", "/dev/null", "--target", "y"], "'/dev/null' is not a regular file",
                 id="device-as-data", marks=pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")),
    pytest.param(["recommend", "ok.csv", "--target", "y", "--time-budget", "0"],
                 "time_budget must be a positive number", id="cli-recommend-time-budget-zero"),
    pytest.param(["run", "truncated.parquet", "--target", "y"], "could not read 'truncated.parquet'",
                 id="truncated-parquet"),
    pytest.param(["run", "ok.csv", "--target", "y", "--time-budget", "0"], "time_budget must be a positive number",
                 id="cli-time-budget-zero"),
    pytest.param(["run", "ok.csv", "--target", "y", "--time-budget", "nan"], "time_budget must be .* got nan",
                 id="cli-time-budget-nan"),
    pytest.param(["quick-run", "ok.csv", "--target", "y", "--time-budget", "inf"], "time_budget must be .* got inf",
                 id="cli-time-budget-inf"),
    pytest.param(["run", "ok.csv", "--target", "y", "--n-trials", "-2"], "n_trials must be None or a positive integer",
                 id="cli-negative-n-trials"),
    pytest.param(["run", "ok.csv", "--target", "colr"], "target='colr' is not a column of df; did you mean 'colour'",
                 id="cli-target-typo-suggests"),
    pytest.param(["run", "ok.csv", "--target", "y", "--out", "afile"], "--out 'afile' already exists and is not an "
                 "empty folder", id="cli-out-is-a-file"),
    pytest.param(["predict", "{run}", "nowhere.csv", "--out", "p.csv"], "'nowhere.csv' does not exist",
                 id="predict-missing-data-file"),
]


@pytest.mark.parametrize("argv, message", CLI_ERRORS)
def test_cli_error_exits_2_and_leaves_nothing(
    workdir: Path, saved: tuple, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    import re

    _write_inputs(workdir)
    before = _listing(workdir)
    assert main([a.replace("{run}", str(saved[0])) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"automl {argv[0]}: error: ") and re.search(message, err), err
    assert _listing(workdir) == before, "a failed command left files behind"


def test_cli_time_budget_not_a_number(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "ok.csv", "--target", "y", "--time-budget", "abc"])
    assert exc.value.code == 2 and "invalid float value: 'abc'" in capsys.readouterr().err
    assert _listing(workdir) == ["ok.csv"]


@pytest.mark.parametrize("sep", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
def test_csv_with_another_delimiter_is_read_with_it(
    workdir: Path, capsys: pytest.CaptureFixture[str], sep: str
) -> None:
    make_frame("binary", n=60).to_csv(workdir / "other.csv", sep=sep, index=False)
    assert main(["profile", "other.csv", "--target", "y", "--json"]) == 0
    prof = json.loads(capsys.readouterr().out)
    assert prof["n_features"] == 5 and prof["task"] == "binary"


def test_truncated_csv_mid_row_reads_with_a_warning(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    text = (workdir / "ok.csv").read_text()
    cut = text.rindex("\n", 0, len(text) // 2) + 12  # a dozen characters into a row
    (workdir / "cut.csv").write_text(text[:cut])
    assert main(["profile", "cut.csv", "--target", "y", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_rows"] == text[:cut].count("\n")
    assert "cut.csv does not end with a line break and its last row lacks values: the file looks truncated" in (
        caplog.text
    )


def test_parquet_with_nested_columns(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pa = pytest.importorskip("pyarrow", reason="pyarrow writes and reads Parquet")
    import pyarrow.parquet as pq

    table = pa.table({
        "x": list(range(40)),
        "tags": [[i, i + 1] for i in range(40)],
        "meta": [{"a": i, "b": "s"} for i in range(40)],
        "y": ["a", "b"] * 20,
    })
    pq.write_table(table, workdir / "nested.parquet")
    for command in ("run", "profile"):
        assert main([command, "nested.parquet", "--target", "y"]) == 2
        assert "column 'tags' holds ndarray values" in capsys.readouterr().err
    assert _listing(workdir) == ["nested.parquet", "ok.csv"]


def test_cli_predict_with_missing_columns_names_them(
    workdir: Path, saved: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    saved[2].drop(columns=["x1", "when", "y"]).to_csv(workdir / "new.csv", index=False)
    assert main(["predict", str(saved[0]), "new.csv", "--out", "p.csv"]) == 2
    assert "columns ['x1', 'when'] were used in training but are missing" in capsys.readouterr().err
    assert not (workdir / "p.csv").exists()


def test_cli_predict_with_reordered_columns(workdir: Path, saved: tuple) -> None:
    _, result, frame = saved
    frame[list(reversed(frame.columns))].to_csv(workdir / "new.csv", index=False)
    assert main(["predict", str(saved[0]), "new.csv", "--out", "p.csv", "--proba"]) == 0
    got = pd.read_csv(workdir / "p.csv")
    assert got["prediction"].tolist() == result.predict(frame).tolist()


def test_cli_predict_with_a_tampered_run_directory(
    workdir: Path, saved: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _tampered(saved, workdir / "runs", _point_outside_the_checksums)
    assert main(["predict", str(run), "ok.csv", "--out", "p.csv"]) == 2
    assert "not among its checksummed files" in capsys.readouterr().err
    assert not (workdir / "p.csv").exists()


def test_cli_predict_on_a_csv_with_only_a_header(workdir: Path, saved: tuple) -> None:
    """No rows to score is not an error for predict: the output has the columns and no rows."""
    saved[2].iloc[:0].to_csv(workdir / "new.csv", index=False)
    assert main(["predict", str(saved[0]), "new.csv", "--out", "p.csv", "--proba"]) == 0
    got = pd.read_csv(workdir / "p.csv")
    assert len(got) == 0 and list(got.columns) == ["prediction", "proba_no", "proba_yes"]
