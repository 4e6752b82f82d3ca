"""The meta-dataset builder: its lines, its normalised scores, resuming, and contained failures."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import metadata as md
from benchmarks.portfolio import EXCLUDED, POOL


def _write_pool(folder: Path) -> Path:
    """Two tiny datasets in the PMLB pool's format: gzipped TSV, target ``target``, a manifest."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    entries = []
    for name, task, n in (("tiny_binary", "binary", 120), ("tiny_regression", "regression", 100)):
        X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.integers(0, 4, size=n)})
        signal = 2 * X["a"] - X["b"]
        y = (signal > 0).astype(int) if task == "binary" else signal + rng.normal(scale=0.1, size=n)
        X.assign(target=y).to_csv(folder / f"{name}.tsv.gz", sep="\t", index=False)
        entries.append({"name": name, "file": f"{name}.tsv.gz", "target": "target", "task": task, "rows": n,
                        "features": 3})
    (folder / "manifest.json").write_text(json.dumps(entries))
    return folder


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """One small build: sklearn on both datasets, plus a framework name that fails every time."""
    tmp = tmp_path_factory.mktemp("metadata")
    pool = _write_pool(tmp / "pool")
    out = tmp / "runs.jsonl"
    args = ["--pool", str(pool), "--datasets", "2", "--budget", "2", "--frameworks", "sklearn", "nosuch",
            "--out", str(out)]
    assert md.main(args) == 0
    return pool, out, args


@pytest.mark.slow
def test_run_lines_have_the_documented_fields(built: tuple[Path, Path, list[str]]) -> None:
    _, out, _ = built
    rows = _lines(out)
    assert {(r["dataset"], r["framework"]) for r in rows} == {
        (d, f) for d in ("tiny_binary", "tiny_regression") for f in ("sklearn", "nosuch")}
    for r in rows:
        assert set(r) == set(md.RUN_FIELDS)
        assert r["format_version"] == md.FORMAT_VERSION and r["budget"] == 2.0 and r["n_jobs"] == 1
        assert r["hardware_id"] == r["hardware"]["hardware_id"] and r["hardware"]["physical_cores"] >= 1
    ok = [r for r in rows if r["framework"] == "sklearn"]
    for r in ok:
        assert r["status"] == "ok", r["reason"]
        assert r["meta"]["n_rows"] == r["train_rows"] and r["meta"]["n_features"] == 3
        assert r["n_complete"] >= 1 and r["seconds_per_trial_median"] > 0
        assert r["peak_mb"] >= r["baseline_mb"] > 0
        assert r["rule_based"]["seconds_per_trial"] > 0
        assert r["metric"] == {"binary": "auc", "regression": "rmse"}[r["task"]]
        assert r["test_score"] == r["test"][r["metric"]]
        assert r["group"] == r["dataset"]


@pytest.mark.slow
def test_normalised_scores_are_in_0_1_with_a_1_per_dataset(built: tuple[Path, Path, list[str]]) -> None:
    _, out, _ = built
    rows = _lines(out)
    for dataset in ("tiny_binary", "tiny_regression"):
        scores = [r["normalised_score"] for r in rows if r["dataset"] == dataset and r["status"] == "ok"]
        assert scores and all(0.0 <= s <= 1.0 for s in scores) and max(scores) == 1.0


@pytest.mark.slow
def test_a_failing_framework_is_recorded_and_the_run_goes_on(built: tuple[Path, Path, list[str]]) -> None:
    _, out, _ = built
    failed = [r for r in _lines(out) if r["framework"] == "nosuch"]
    assert len(failed) == 2
    assert all(r["status"] == "failed" and "nosuch" in r["reason"] and r["normalised_score"] is None for r in failed)


@pytest.mark.slow
def test_trial_lines_belong_to_finished_runs(built: tuple[Path, Path, list[str]]) -> None:
    _, out, _ = built
    trials = md.load_trials(runs_path=out)
    assert len(trials) >= 2 and set(trials.columns) == set(md.TRIAL_FIELDS)
    assert set(trials["framework"]) == {"sklearn"}
    done = trials[trials["state"] == "COMPLETE"]
    assert (done["fit_seconds"] > 0).all() and done["config"].map(lambda c: isinstance(c, dict) and c).all()
    assert (done["fold_train_rows"] > 0).all() and (done["n_splits"] == 15).all()  # 5-fold CV, 3 times
    runs = md.load_runs(out)
    assert set(trials["run_id"]) <= set(runs["run_id"]) and "meta.n_rows" in runs.columns


@pytest.mark.slow
def test_a_second_invocation_skips_finished_pairs(built: tuple[Path, Path, list[str]],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _, out, args = built
    before = out.read_text()
    assert md.main(args) == 0
    assert "0 to do" in capsys.readouterr().out
    assert out.read_text() == before


@pytest.mark.slow
def test_retry_failed_runs_only_the_failed_pairs_again(built: tuple[Path, Path, list[str]]) -> None:
    _, out, args = built
    ok_before = [r for r in _lines(out) if r["status"] == "ok"]
    assert md.main([*args, "--retry-failed"]) == 0
    rows = _lines(out)
    assert [r for r in rows if r["status"] == "ok"] == ok_before
    assert sum(r["status"] == "failed" for r in rows) == 2


def _crash(*args: object, **kwargs: object) -> None:
    os._exit(3)


def _hang(*args: object, **kwargs: object) -> None:
    time.sleep(60)


def test_a_crash_and_a_hang_in_the_child_are_failures() -> None:
    frame = pd.DataFrame({"a": [0.0, 1.0], "target": [0, 1]})
    crashed = md.run_in_child(frame, frame, "binary", "sklearn", 1.0, timeout=30, work=_crash)
    assert crashed["status"] == "failed" and "exit code 3" in crashed["reason"]
    started = time.monotonic()
    hung = md.run_in_child(frame, frame, "binary", "sklearn", 1.0, timeout=1, work=_hang)
    assert hung["status"] == "failed" and hung["reason"].startswith("timeout")
    assert time.monotonic() - started < 20


def _row(framework: str, score: float | None, higher: bool = False, status: str = "ok") -> dict:
    return {"pool": "p", "dataset": "d", "budget": 10.0, "hardware_id": "h", "framework": framework,
            "status": status, "test_score": score, "constant_score": 1.0, "higher_is_better": higher}


def test_normalise_handles_losses_failures_and_no_signal() -> None:
    rows = md.normalise([_row("a", 0.2), _row("b", 0.6), _row("c", 1.5), _row("x", None, status="failed")])
    assert [r["normalised_score"] for r in rows] == [1.0, 0.5, 0.0, None]  # c: worse than constant, clipped
    assert all(r["best_test_score"] == 0.2 for r in rows)
    flat = md.normalise([_row("a", 1.0), _row("b", 1.2)])  # nothing beats the constant
    assert [r["normalised_score"] for r in flat] == [None, None]
    auc = md.normalise([_row("a", 0.9, higher=True), _row("b", 0.7, higher=True)])
    for r in auc:
        r["constant_score"] = 0.5
    assert [r["normalised_score"] for r in md.normalise(auc)] == [1.0, 0.5]


def test_plan_is_a_prefix_and_leaves_out_the_dev_suite(tmp_path: Path) -> None:
    pool = _write_pool(tmp_path / "pool")
    assert md.plan_datasets(pool, 1) == md.plan_datasets(pool, 2)[:1]
    if not (POOL / "manifest.json").exists():
        pytest.skip("the PMLB pool is not here")
    full = md.plan_datasets(POOL, 90)
    assert md.plan_datasets(POOL, 30) == full[:30]
    assert [e["task"] for e in full[:3]] == ["binary", "multiclass", "regression"]
    assert not {e["name"] for e in full} & set(EXCLUDED)
    assert all(e["rows"] <= 20_000 for e in full)


def test_near_duplicates_share_a_group() -> None:
    assert md.group_of("cleve") == md.group_of("heart_c") == md.group_of("hungarian")
    assert md.group_of("195_auto_price") == md.group_of("207_autoPrice")
    assert md.group_of("294_satellite_image") == md.group_of("satimage")
    assert md.group_of("197_cpu_act") == md.group_of("561_cpu")
    assert md.group_of("593_fri_c1_1000_10") == md.group_of("649_fri_c0_500_5")
    assert md.group_of("vowel") != md.group_of("yeast")


def test_an_unreadable_dataset_fails_its_pairs_once(tmp_path: Path) -> None:
    entry = {"name": "gone", "file": "gone.tsv.gz", "target": "target", "task": "binary", "rows": 100, "features": 2}
    out = tmp_path / "runs.jsonl"
    for _ in range(2):
        md.build([entry], ["sklearn", "xgboost"], 2.0, pool=tmp_path, out=out)
    rows = _lines(out)
    assert [r["framework"] for r in rows] == ["sklearn", "xgboost"]
    assert all(r["status"] == "failed" and r["reason"].startswith("dataset:") and set(r) == set(md.RUN_FIELDS)
               for r in rows)


def _run(dataset: str, framework: str, status: str = "ok", higher: bool = True) -> dict:
    return {"run_id": f"{dataset}-{framework}", "status": status, "pool": "p", "dataset": dataset, "budget": 10.0,
            "hardware_id": "h", "higher_is_better": higher}


def test_cross_validated_scores_join_by_run_id_and_normalise_per_dataset() -> None:
    rows = [_run("a", "x"), _run("a", "y"), _run("a", "z", status="failed"),
            _run("b", "x", higher=False), _run("b", "y", higher=False), _run("c", "x")]
    cv = [
        {"run_id": "a-x", "status": "ok", "cv_score": 0.9, "cv_constant": 0.5, "cv_folds": 10},
        {"run_id": "a-y", "status": "ok", "cv_score": 0.7, "cv_constant": 0.5, "cv_folds": 10},
        {"run_id": "a-z", "status": "ok", "cv_score": 0.99, "cv_constant": 0.5, "cv_folds": 10},  # its run failed
        {"run_id": "b-x", "status": "ok", "cv_score": 2.0, "cv_constant": 4.0, "cv_folds": 5},  # a loss: lower wins
        {"run_id": "b-y", "status": "failed", "cv_score": None, "cv_constant": None, "cv_folds": None},
        {"run_id": "c-x", "status": "ok", "cv_score": 0.4, "cv_constant": 0.5, "cv_folds": 10},  # worse than constant
    ]
    by_id = {r["run_id"]: r for r in md.join_cv(rows, cv)}
    assert by_id["a-x"]["normalised_cv"] == 1.0 and by_id["a-y"]["normalised_cv"] == pytest.approx(0.5)
    assert by_id["a-z"]["normalised_cv"] is None and by_id["a-z"]["cv_score"] is None
    assert by_id["b-x"]["normalised_cv"] == 1.0 and by_id["b-x"]["cv_folds"] == 5
    assert by_id["b-y"]["cv_score"] is None and by_id["b-y"]["normalised_cv"] is None
    assert by_id["c-x"]["cv_score"] == 0.4 and by_id["c-x"]["normalised_cv"] is None


def test_cross_validation_of_one_configuration_scores_every_row_once_per_repeat() -> None:
    from benchmarks.metadata_cv import chosen_trial, cross_validate

    rng = np.random.default_rng(0)
    n = 150
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    binary = X.assign(target=np.where(X["a"] > 0, "yes", "no"))
    out = cross_validate(binary, "binary", "sklearn", "linear", {"C": 1.0, "class_weight": "none"})
    assert out["metric"] == "auc" and out["cv_folds"] == 10 and out["cv_repeats"] == 2
    assert out["cv_score"] > 0.95 and out["cv_constant"] == pytest.approx(0.5, abs=0.1)
    noise = X.assign(target=rng.normal(size=n))
    out = cross_validate(noise, "regression", "sklearn", "linear", {"alpha": 1.0}, max_seconds=0.0)
    assert out["metric"] == "rmse" and out["cv_repeats"] == 1  # the first repeat took longer than 0 s
    assert out["cv_score"] == pytest.approx(out["cv_constant"], rel=0.1)  # nothing to learn
    assert binary.shape == (n, 3) and list(binary.columns) == ["a", "b", "target"]  # not modified
    assert out["cv_truncated"] == 0
    cut = cross_validate(binary, "binary", "sklearn", "rf", {"n_estimators": 200, "max_features": 0.5},
                         repeats=1, max_fit_seconds=0.0)  # a forest stops growing at its deadline, as in a trial
    assert cut["cv_truncated"] == 5 and cut["cv_folds"] == 5
    trials = pd.DataFrame([
        {"trial": 0, "state": "COMPLETE", "value": 0.8, "family": "hgb", "config": {}},
        {"trial": 1, "state": "PRUNED", "value": 0.95, "family": "hgb", "config": {}},
        {"trial": 2, "state": "COMPLETE", "value": 0.9, "family": "rf", "config": {"n": 1}},
        {"trial": 3, "state": "COMPLETE", "value": 0.9, "family": "linear", "config": {}},
    ])
    assert chosen_trial(trials)["trial"] == 2  # the best finished one; the earlier on a tie
    assert chosen_trial(trials.iloc[:0]) is None


@pytest.mark.slow
def test_runs_are_rescored_by_cross_validation_and_joined(built: tuple[Path, Path, list[str]],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import metadata_cv

    pool, out, _ = built
    args = ["--runs", str(out), "--pool", str(pool)]
    assert metadata_cv.main(args) == 0
    lines = _lines(md.cv_path(out))
    assert {(r["dataset"], r["framework"]) for r in lines} == {("tiny_binary", "sklearn"),
                                                               ("tiny_regression", "sklearn")}  # ok runs only
    for r in lines:
        assert set(r) == set(metadata_cv.CV_FIELDS) and r["status"] == "ok", r["reason"]
        assert r["cv_folds"] == 10 and r["metric"] == {"binary": "auc", "regression": "rmse"}[
            "binary" if r["dataset"] == "tiny_binary" else "regression"]
    runs = md.load_runs(out)
    ok = runs[runs.status == "ok"]
    assert (ok.normalised_cv == 1.0).all() and ok.cv_score.notna().all()
    capsys.readouterr()
    assert metadata_cv.main(args) == 0
    assert "plan: 0 runs" in capsys.readouterr().out and len(_lines(md.cv_path(out))) == 2
