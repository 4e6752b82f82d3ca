"""result.framework_report(): each framework's evidence after a search, ties within the validation noise,
and the opt-in writer that adds a search to the meta-dataset."""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from automl._frameworks import paired_tie


def _with_folds(result, folds: dict[str, list[float]]):
    """``result`` whose frameworks' finished trials all have the given fold scores (and mean scores)."""
    board = result.leaderboard.copy()
    for framework, scores in folds.items():
        for i in board.index[(board.framework == framework) & (board.state == "COMPLETE")]:
            board.at[i, "fold_scores"] = scores
            board.at[i, "score"] = float(np.mean(scores))
    return dataclasses.replace(result, leaderboard=board)


def test_one_row_per_framework_the_best_tied_with_itself(binary_search) -> None:
    result, _ = binary_search
    report = result.framework_report()
    frame = report.to_frame()
    assert sorted(frame.framework) == ["sklearn", "xgboost"]
    assert list(frame.columns) == ["framework", "best_roc_auc", "trials_complete", "trials_pruned", "trials_failed",
                                   "seconds", "tied_with_best", "note"]
    top = frame.iloc[0]
    assert top.tied_with_best and top.note == "best" and top.best_roc_auc == frame.best_roc_auc.max()
    board = result.leaderboard
    assert frame.trials_complete.sum() + frame.trials_pruned.sum() + frame.trials_failed.sum() == len(board)
    assert (frame.seconds > 0).all()
    assert report.verdict.startswith((f"Use {top.framework}", f"{top.framework} scored best"))
    assert report.verdict in str(report) and "Which framework?" in report._repr_html_()
    assert report.verdict in result.summary() and "Which framework?" in result._repr_html_()
    assert all(len(f) == 5 for f in board.fold_scores.dropna())  # every finished trial keeps its 5 fold scores
    empty = dataclasses.replace(result, leaderboard=pd.DataFrame()).framework_report()  # e.g. an old manifest
    assert empty.verdict.startswith("No framework finished a trial") and empty.to_frame().best_roc_auc.isna().all()


def test_identical_folds_are_tied_and_clearly_separated_ones_are_not(binary_search) -> None:
    result, _ = binary_search
    same = [0.90, 0.95, 0.88, 0.93, 0.91]
    frame = _with_folds(result, {"sklearn": same, "xgboost": same}).framework_report().to_frame()
    assert frame.tied_with_best.tolist() == [True, True]
    apart = _with_folds(result, {"sklearn": [0.95, 0.96, 0.95, 0.97, 0.96], "xgboost": [0.80, 0.82, 0.81, 0.80, 0.79]})
    report = apart.framework_report()
    assert report.to_frame().set_index("framework").tied_with_best.to_dict() == {"sklearn": True, "xgboost": False}
    assert report.verdict.startswith("Use sklearn: it beats every other framework")
    # The paired test: a constant gap is no noise, however small; a gap inside the folds' scatter is a tie.
    assert paired_tie([0.9, 0.8, 0.7], [0.89, 0.79, 0.69], 0.5)[0] is False
    assert paired_tie([0.9, 0.8, 0.7], [0.8, 0.9, 0.69], 0.5)[0] is True
    assert paired_tie([0.9], [0.8], 0.5) == (None, "one fold score: noise unmeasured")


def test_a_holdout_is_judged_by_the_bootstrap_of_its_validation_rows(binary_search) -> None:
    from automl.metrics import Metric
    from automl.search._best import Candidates
    from automl.search._noise import holdout_noise

    result, _ = binary_search
    rng = np.random.default_rng(0)
    y = pd.Series(rng.integers(0, 2, size=300))
    good = np.column_stack([1 - (0.2 + 0.6 * y), 0.2 + 0.6 * y])
    noisy = np.clip(good + rng.normal(0, 0.01, size=good.shape), 0.01, 0.99)
    coin = np.full_like(good, 0.5)
    candidates = Candidates()
    candidates.remember(1, 1.0, good, 0.1, "sklearn/linear")
    candidates.remember(2, 1.0, noisy, 0.1, "xgboost/gbtree")
    candidates.remember(3, 0.5, coin, 0.1, "lightgbm/gbdt")
    noise = holdout_noise(candidates, y, Metric("roc_auc"), np.array([0, 1]), seconds=30)
    assert noise["method"].startswith("paired bootstrap over 300 validation rows")
    tied = {f: e["difference"] <= e["se"] for f, e in noise["frameworks"].items()}
    assert tied == {"sklearn": True, "xgboost": True, "lightgbm": False}
    holdout = dataclasses.replace(result, validation="holdout (240 train / 60 validation rows)")
    unmeasured = holdout.framework_report()
    assert "unmeasured" in unmeasured.verdict and unmeasured.to_frame().tied_with_best.tolist()[1] is None
    top = unmeasured.to_frame().framework[0]
    other = "xgboost" if top == "sklearn" else "sklearn"
    measured = {"method": "paired bootstrap", "against": top,
                "frameworks": {top: {"trial": 0, "difference": 0.0, "se": 0.0},
                               other: {"trial": 1, "difference": 0.2, "se": 0.01}}}
    frame = dataclasses.replace(holdout, validation_noise=measured).framework_report().to_frame()
    assert frame.tied_with_best.tolist() == [True, False]


def test_a_search_on_a_holdout_records_its_noise(monkeypatch) -> None:
    import automl
    from automl.search import _resampling
    from tests.conftest import make_frame

    monkeypatch.setattr(_resampling, "CV5_MAX_ROWS", 50)
    monkeypatch.setattr(_resampling, "CV3_MAX_ROWS", 100)
    result = automl.fit(make_frame("binary", n=300), "y", time_budget=20, n_trials=4, seed=0,
                        frameworks=["sklearn"], verbosity=0, search_options={"bagging": False})
    assert result.validation.startswith("stratified holdout")
    assert result.study.user_attrs["holdout_noise"]["frameworks"]["sklearn"]["difference"] == 0.0
    assert result.framework_report().to_frame().tied_with_best.tolist() == [True]


def test_the_report_survives_save_and_load_and_nothing_goes_to_a_meta_dataset_by_default(
    binary_search, tmp_path
) -> None:
    import automl

    result, _ = binary_search
    out = result.save(tmp_path / "run")
    loaded = automl.load(out)
    pd.testing.assert_frame_equal(loaded.framework_report().to_frame(), result.framework_report().to_frame())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["framework_report"]["verdict"] == result.framework_report().verdict
    saved = pd.read_csv(out / "frameworks.csv").framework.tolist()
    assert saved == result.framework_report().to_frame().framework.tolist()
    assert not list(tmp_path.rglob("*.jsonl"))  # opt-in only


def test_the_cli_prints_the_verdict(binary_search, capsys) -> None:
    from automl.cli._output import report

    result, _ = binary_search
    args = argparse.Namespace(json=False, mlflow=None)
    report(dataclasses.replace(result, run_dir=None), args, 1.0)
    text = capsys.readouterr().out
    assert "== Which framework ==" in text and text.count(result.framework_report().verdict) == 1
    report(dataclasses.replace(result, run_dir=None), argparse.Namespace(json=True, mlflow=None), 1.0)
    assert json.loads(capsys.readouterr().out)["framework_report"]["verdict"] == result.framework_report().verdict


def test_save_to_metadata_appends_one_run_line_per_framework(binary_search, tmp_path) -> None:
    from benchmarks.metadata import RUN_FIELDS
    from recommender.meta import meta_features
    from recommender.metadata_format import RUN_FIELDS as SHARED_FIELDS

    assert SHARED_FIELDS == RUN_FIELDS  # one format for the benchmark and the users
    result, df = binary_search
    report = result.framework_report()
    path = report.save_to_metadata(tmp_path / "mine.jsonl", df, dataset="my_data")
    report.save_to_metadata(path, df, dataset="my_data")  # appends
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 4 and all(list(line) == list(RUN_FIELDS) for line in lines)
    first = {line["framework"]: line for line in lines[:2]}
    top = report.to_frame().framework[0]
    assert first[top]["normalised_score"] == 1.0 and first[top]["status"] == "ok"
    assert first[top]["constant_score"] == pytest.approx(0.5)  # AUC of the class prior
    assert first[top]["meta"] == json.loads(json.dumps(meta_features(result.profile)))
    assert first[top]["dataset"] == "my_data" and first[top]["val_metric"] == "roc_auc"
    assert first[top]["n_complete"] == int(report.to_frame().trials_complete[0])
    assert 0 <= first["xgboost" if top == "sklearn" else "sklearn"]["normalised_score"] <= 1
    with pytest.raises(ValueError, match="target column 'y'"):
        report.save_to_metadata(tmp_path / "x.jsonl", df.drop(columns="y"))
    with pytest.raises(ValueError, match=r"\.jsonl"):
        report.save_to_metadata(tmp_path / "x.csv", df)
