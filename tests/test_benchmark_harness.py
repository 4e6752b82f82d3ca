"""The benchmark harness's arithmetic: split, metrics, constant predictor, normalised scores, report."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from benchmarks import compare
from benchmarks._suite import (
    constant_scores,
    load_split,
    normalised,
    outside_training_range,
    parse_split_name,
    score,
    split_name,
)


def test_normalised_score_is_zero_for_the_constant_and_one_for_the_best():
    assert normalised(0.9, 0.5, 0.9) == 1.0
    assert normalised(0.5, 0.5, 0.9) == 0.0
    assert normalised(0.7, 0.5, 0.9) == pytest.approx(0.5)
    # Lower is better (log loss, RMSE): the same formula holds.
    assert normalised(0.2, 1.0, 0.2) == 1.0
    assert normalised(0.6, 1.0, 0.2) == pytest.approx(0.5)
    assert math.isnan(normalised(0.5, 0.5, 0.5))


def test_scores_compare_labels_as_text_whatever_type_a_system_returns():
    y = pd.Series([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    as_ints = score("binary", y, None, proba, [0, 1])
    as_text = score("binary", y.astype(str), None, proba, ["0", "1"])
    assert as_ints == as_text
    assert as_ints["auc"] == 1.0 and as_ints["accuracy"] == 1.0


def test_constant_predictor_scores_the_prior():
    train = pd.DataFrame({"y": ["a"] * 30 + ["b"] * 10})
    test = pd.DataFrame({"y": ["a"] * 3 + ["b"] * 1})
    c = constant_scores("binary", train, test, "y")
    assert c["auc"] == 0.5
    assert c["logloss"] == pytest.approx(-(3 * math.log(0.75) + math.log(0.25)) / 4)
    reg = constant_scores("regression", pd.DataFrame({"y": [1.0, 3.0]}), pd.DataFrame({"y": [2.0, 4.0]}), "y")
    assert reg["rmse"] == pytest.approx(math.sqrt((0 + 4) / 2))


def test_split_drops_missing_targets_and_stratifies(tmp_path):
    df = pd.DataFrame({"x": range(100), "y": ["p"] * 60 + ["q"] * 30 + [None] * 10})
    df.to_csv(tmp_path / "d.csv.gz", index=False)
    entry = {"name": "d", "file": "d.csv.gz", "target": "y", "task": "binary"}
    train, test = load_split(entry, tmp_path)
    assert len(train) + len(test) == 90 and len(test) == 23
    assert test["y"].value_counts().to_dict() == {"p": 15, "q": 8}


def test_another_outer_split_draws_other_test_rows_under_its_own_name(tmp_path):
    df = pd.DataFrame({"x": range(100), "y": [float(i % 7) for i in range(100)]})
    df.to_csv(tmp_path / "d.csv.gz", index=False)
    entry = {"name": "d", "file": "d.csv.gz", "target": "y", "task": "regression"}
    _, first = load_split(entry, tmp_path)
    _, again = load_split(entry, tmp_path, split=0)
    _, other = load_split(entry, tmp_path, split=3)
    assert first["x"].tolist() == again["x"].tolist()
    assert len(other) == 25 and set(other["x"]) != set(first["x"])
    assert split_name("d", 0) == "d" and split_name("d", 3) == "d@split3"
    assert parse_split_name("d@split3") == ("d", 3) and parse_split_name("d") == ("d", 0)


def test_test_rows_outside_the_training_target_range_are_counted_and_reported(tmp_path):
    train = pd.DataFrame({"y": [1.0, 5.0, 3.0]})
    test = pd.DataFrame({"y": [0.5, 2.0, 5.0, 9.0]})
    assert outside_training_range(train, test, "y") == 2
    df = pd.DataFrame({"x": range(40), "y": [float(i) for i in range(40)]})
    df.to_csv(tmp_path / "d.csv.gz", index=False)
    (tmp_path / "manifest.json").write_text(json.dumps(
        [{"name": "d", "file": "d.csv.gz", "target": "y", "task": "regression"}]))
    tr, te = load_split({"name": "d", "file": "d.csv.gz", "target": "y", "task": "regression"}, tmp_path, 1)
    expected = outside_training_range(tr, te, "y")
    g = pd.DataFrame([{"dataset": "d@split1", "task": "regression"}, {"dataset": "e", "task": "binary"}])
    assert compare.extrapolation_lines(g, tmp_path)[0] == (
        f"Regression test rows outside the training target range: d@split1 {expected}/{len(te)}.")
    assert compare.extrapolation_lines(g, tmp_path / "missing") == []


def _row(system, dataset, task, value, wall, budget=60.0, **extra):
    metric = {"binary": "auc", "regression": "rmse"}[task]
    constant = {"auc": 0.5} if task == "binary" else {"rmse": 10.0}
    return {"invocation": "t", "machine": "m", "versions": {}, "system": system, "dataset": dataset, "task": task,
            "budget": budget, "constant": constant, metric: value, "fit_predict_s": wall, "peak_mb": 100,
            "best": "x", **extra}


def test_report_ranks_systems_and_counts_wins_ties_losses(tmp_path):
    rows = [
        _row("automl", "a", "binary", 0.90, 50), _row("flaml", "a", "binary", 0.80, 61),
        _row("automl", "b", "regression", 4.0, 60), _row("flaml", "b", "regression", 2.0, 70),
        _row("automl", "c", "binary", 0.70, 20), _row("flaml", "c", "binary", 0.70, 20),
    ]
    path = tmp_path / "compare_60s.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    df, summary, pairs = compare.summarise(compare.load_rows(path))
    norm = df.set_index(["system", "dataset"])["norm"]
    assert norm["automl", "a"] == 1.0 and norm["flaml", "a"] == pytest.approx(0.75)
    assert norm["automl", "b"] == pytest.approx(0.75) and norm["flaml", "b"] == 1.0
    wtl = pairs[(pairs.system == "automl") & (pairs.versus == "flaml")].iloc[0]
    assert (wtl.wins, wtl.ties, wtl.losses) == (1, 1, 1)
    kept = summary.set_index("system")["promise_kept"]
    assert kept["automl"] == 3 and kept["flaml"] == 2  # 70 s > 60 x 1.05 + 5
    text = compare.render(path)
    assert "| automl | 0.9167 |" in text
    assert path.with_suffix(".png").stat().st_size > 0


def test_the_newest_run_of_each_system_wins_and_failures_score_zero(tmp_path):
    rows = [
        _row("automl", "a", "binary", 0.60, 50, invocation="old"),
        _row("automl", "a", "binary", 0.90, 50, invocation="new"),
        {**_row("flaml", "a", "binary", float("nan"), 0), "error": "exit 1: boom"},
    ]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    df, _, _ = compare.summarise(compare.load_rows(path))
    assert df.set_index("system").loc["automl", "main"] == 0.90
    assert df.set_index("system").loc["flaml", "norm"] == 0.0
    assert "flaml on a failed: exit 1: boom" in compare.render(path)


def test_multiclass_log_loss_lines_labels_up_by_position_not_text_order():
    # Labels 1..10: as text "10" sorts before "2"; the columns must still line up with the classes.
    classes = list(range(1, 11))
    y = pd.Series([1, 2, 10, 10])
    proba = np.full((4, 10), 0.01)
    for row, label in enumerate(y):
        proba[row, classes.index(label)] = 0.91
    out = score("multiclass", y, None, proba, classes)
    assert out["accuracy"] == 1.0
    assert out["logloss"] == pytest.approx(-math.log(0.91), rel=1e-6)


def test_resume_skips_peers_and_this_projects_runs_with_the_same_code(tmp_path, monkeypatch):
    from benchmarks import compare

    # Commits "abc" and "docs" hold the same code (a docs-only commit); "old" holds other code.
    code = {"abc": "tree1", "docs": "tree1", "old": "tree0"}
    monkeypatch.setattr(compare, "code_version", lambda commit: code.get(commit))
    path = tmp_path / "runs.jsonl"
    rows = [
        {"system": "flaml", "dataset": "iris", "budget": 300, "commit": "old"},
        {"system": "autogluon", "dataset": "iris", "budget": 300.0},
        {"system": "automl", "dataset": "iris", "budget": 300, "commit": "abc"},
        {"system": "automl", "dataset": "adult", "budget": 300, "commit": "old"},
        {"system": "no-ensemble", "dataset": "adult", "budget": 300, "commit": "abc"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    expected = {
        ("flaml", "iris", 300.0), ("autogluon", "iris", 300.0), ("automl", "iris", 300.0),
        ("no-ensemble", "adult", 300.0),
    }
    assert compare.already_run(path, "abc") == expected
    assert compare.already_run(path, "docs") == expected
    # A tree with uncommitted code changes is never taken for any commit.
    assert compare.already_run(path, "abc-dirty") == {("flaml", "iris", 300.0), ("autogluon", "iris", 300.0)}
    assert compare.already_run(tmp_path / "none.jsonl", "abc") == set()


def test_code_version_follows_the_code_not_the_commit():
    from benchmarks import compare

    try:
        head = compare._git("rev-parse", "HEAD")
    except Exception:
        pytest.skip("not a git checkout")
    assert compare.code_version(head) == compare.code_version(head[:10]) is not None
    assert compare.code_version(head + "-dirty") is None


def test_allocation_benchmark_measures_time_to_99_percent_of_the_final_score():
    """benchmarks.allocation: the best-so-far curve from a study's trials, and when it first reaches a level."""
    import datetime
    from types import SimpleNamespace

    from benchmarks.allocation import constant_score, curve, seconds_to

    t0 = datetime.datetime(2026, 1, 1)

    def trial(seconds, value):
        return SimpleNamespace(value=value, datetime_complete=None if seconds is None else t0 + datetime.timedelta(
            seconds=seconds))

    study = SimpleNamespace(trials=[trial(5, 0.80), trial(2, 0.70), trial(9, 0.75), trial(12, 0.90),
                                    trial(None, None), trial(20, 0.89)])
    points = curve(SimpleNamespace(study=study), t0)
    assert points == [(2.0, 0.70), (5.0, 0.80), (12.0, 0.90)]  # only improvements, in completion order
    assert seconds_to(points, 0.5 + 0.99 * (0.90 - 0.5)) == 12.0
    assert seconds_to(points, 0.95) is None
    y = pd.Series(["a", "a", "a", "b"])
    assert constant_score("roc_auc", y) == 0.5
    assert constant_score("neg_log_loss", y) == pytest.approx(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert constant_score("neg_root_mean_squared_error", pd.Series([1.0, 3.0])) == -1.0


def test_networks_value_report_counts_networks_in_the_final_model(tmp_path):
    from benchmarks import networks_value

    rows = [
        {**_row("automl", "a", "binary", 0.90, 50), "best": "ensemble",
         "ensemble": ["xgboost/gbtree:0.5", "torch/tabm:0.5"], "trials_by_framework": {"xgboost": 9, "torch": 3},
         "seconds_by_framework": {"xgboost": 30.0, "torch": 10.0}, "commit": "abc1234"},
        {**_row("no-networks", "a", "binary", 0.85, 50), "best": "xgboost", "commit": "abc1234"},
        {**_row("automl", "b", "binary", 0.80, 50), "best": "keras", "trials_by_framework": {"keras": 2}},
        {**_row("no-networks", "b", "binary", 0.80, 50), "best": "sklearn"},
        {**_row("automl", "c", "binary", 0.70, 80), "best": "sklearn",
         "ensemble": ["sklearn/forest:0.5", "xgboost/gbtree:0.5"]},
        {**_row("no-networks", "c", "binary", 0.75, 50), "best": "xgboost"},
    ]
    path = tmp_path / "networks_value_60s.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    text = networks_value.render(path)
    assert "| a | 1.0000 | 0.8750 | +0.1250 | yes | 3 | 25% |" in text  # torch's 10 of 40 trial seconds
    assert "| b | 1.0000 | 1.0000 | +0.0000 | yes | 2 | – |" in text  # a row from before seconds were kept
    assert "| c | 0.8000 | 1.0000 | -0.2000 | no | 0 | – |" in text
    assert "at commit(s): automl at ? (b, c), abc1234 (a); no-networks at ? (b, c), abc1234 (a)" in text
    assert "a network is part of the final model on 2 of 3 datasets" in text
    assert "time promise kept: automl 2/3, no-networks 3/3" in text


def test_networks_value_combines_seeds_per_dataset_with_an_interval_over_datasets(tmp_path):
    from benchmarks import networks_value

    def seed(path, with_a, with_b, network_a):
        rows = [
            {**_row("automl", "a", "binary", with_a, 50), "best": "torch" if network_a else "xgboost"},
            {**_row("no-networks", "a", "binary", 0.90, 50), "best": "xgboost"},
            {**_row("automl", "b", "binary", with_b, 50), "best": "sklearn"},
            {**_row("no-networks", "b", "binary", 0.90, 80), "best": "sklearn"},
        ]
        path.write_text("\n".join(json.dumps(r) for r in rows))
        return path

    # Seed 0: a with networks 0.9 (tie), b 0.8 (0.75 normalised); seed 1: a 0.7 (0.5), b 0.9 (tie).
    files = [seed(tmp_path / "s0.jsonl", 0.90, 0.80, True), seed(tmp_path / "s1.jsonl", 0.70, 0.90, False)]
    text = networks_value.combine(files)
    assert "60 s budget, 2 seed(s)" in text
    assert "| a | 2 | 0.7500 | 1.0000 | -0.2500 | 1/2 |" in text
    assert "| b | 2 | 0.8750 | 1.0000 | -0.1250 | 0/2 |" in text
    assert "difference -0.1875, 90% interval [-0.2500, -0.1250] over 2 datasets" in text
    assert "in at least half the seeds' final model on 1 of 2 datasets" in text
    assert "time promise kept: 6/8 runs" in text


def test_report_gives_each_systems_worst_score_and_gap_behind_the_best_peer(tmp_path):
    rows = [
        _row("automl", "a", "binary", 0.90, 50), _row("flaml", "a", "binary", 0.80, 50),
        _row("autogluon-best", "a", "binary", 0.86, 50),
        _row("automl", "b", "binary", 0.70, 50), _row("flaml", "b", "binary", 0.74, 50),
        _row("autogluon-best", "b", "binary", 0.72, 50),
    ]
    path = tmp_path / "compare_300s.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    _, summary, _ = compare.summarise(compare.load_rows(path))
    worst = summary.set_index("system")["worst_normalised"]
    assert worst["automl"] == pytest.approx(0.2 / 0.24) and worst["flaml"] == pytest.approx(0.75)
    text = compare.render(path)
    assert "| a | +0.100 | -0.100 | +0.250 |" in text  # autogluon-best, automl, flaml: behind the best other
    assert "**+0.167** (b)" in text  # automl's largest gap: b, behind flaml
    assert compare.interpreter("autogluon-best") == compare.interpreter("autogluon")  # one venv, two presets


def test_benchmark_rows_say_where_each_frameworks_seconds_went():
    """benchmarks._run_system.run_automl records each framework's trials and trial seconds."""
    from benchmarks._run_system import run_automl
    from tests.conftest import make_frame

    frame = make_frame("binary", n=300)
    train, test = frame.iloc[:240], frame.iloc[240:]
    row = run_automl(train, test, "y", "binary", 8.0, 0, {"frameworks": ["sklearn"], "ensemble": False})
    assert set(row["trials_by_framework"]) == {"sklearn"} and row["trials_by_framework"]["sklearn"] >= 1
    assert set(row["seconds_by_framework"]) == {"sklearn"} and row["seconds_by_framework"]["sklearn"] > 0
    assert row["proba"].shape == (60, 2)
    assert row["refit"].startswith("no refit: the final model averages trial")  # how the final model came to be


def test_trial_seconds_groups_a_studys_trials_by_framework_and_family():
    from types import SimpleNamespace

    from benchmarks.trial_seconds import by_family, trial_rows

    def trial(n, framework, family, seconds, folds, value, **flags):
        attrs = {"family": family, "fit_seconds": seconds, "fold_seconds": seconds / folds, "folds": folds, **flags}
        return SimpleNamespace(number=n, params={"framework": framework}, user_attrs=attrs,
                               state=SimpleNamespace(name="COMPLETE"), value=value)

    study = SimpleNamespace(trials=[
        trial(0, "keras", "realmlp", 70.0, 10, -55.0, truncated=True),
        trial(1, "torch", "tabm", 20.0, 15, -53.7, shortened=True),
        trial(2, "torch", "tabm", 10.0, 15, -54.0),
    ])
    table = by_family(trial_rows(SimpleNamespace(study=study)))
    assert list(table.index) == [("keras", "realmlp"), ("torch", "tabm")]  # the costliest first
    assert table.loc[("torch", "tabm")].to_dict() == {
        "trials": 2, "seconds": 30.0, "folds_mean": 15.0, "truncated": 0, "shortened": 1, "best": -53.7}
    assert table.loc[("keras", "realmlp"), "truncated"] == 1


def test_fold_bags_compares_every_repeats_fold_models_with_the_first_repeats():
    from benchmarks import fold_bags
    from tests.conftest import make_frame

    df = make_frame("regression", n=120)
    (row,) = fold_bags.one_split(df, "y", "regression", seed=0, repeats=2, frameworks=("sklearn",))
    assert row["folds"] == 5 and row["repeats"] == 2 and "refit" not in row
    assert math.isfinite(row["bag"]["rmse"]) and math.isfinite(row["bag_all"]["rmse"])
    assert row["bag"]["rmse"] != row["bag_all"]["rmse"]  # 10 fold models averaged, not the first 5
    (plain,) = fold_bags.one_split(df, "y", "regression", seed=0, frameworks=("sklearn",))
    assert "refit" in plain and "bag_all" not in plain
    constant = {"rmse": 10.0}
    rows = pd.DataFrame([
        {"dataset": "d", "source": "dev", "task": "regression", "rows": 100, "framework": f, "split": 0,
         "bag": {"rmse": b}, "bag_all": {"rmse": a}, "constant": constant, "commit": "c"}
        for f, b, a in (("sklearn", 6.0, 5.0), ("xgboost", 7.0, 7.5))])
    assert fold_bags.arms(rows) == ("bag_all", "bag")
    d = fold_bags.differences(rows)  # best 5.0: span |5 - 10| = 5
    assert d.difference.tolist() == pytest.approx([0.2, -0.1])
    assert "| bag_all better | bag better |" in fold_bags.report(rows, "cmd")


def test_peer_leaderboard_reads_the_ensembles_weights_from_autogluons_model_info():
    from benchmarks.peer_leaderboard import ensemble_weights

    one = {"children_info": {"S1F1": {"model_weights": {"LightGBM": 0.75, "NN": 0.25}}}}
    assert ensemble_weights(one) == {"LightGBM": 0.75, "NN": 0.25}
    folds = {"children_info": {"F1": {"model_weights": {"A": 1.0}}, "F2": {"model_weights": {"A": 0.5, "B": 0.5}}}}
    assert ensemble_weights(folds) == {"A": 0.75, "B": 0.25}
    assert ensemble_weights({"children_info": None}) == {} and ensemble_weights({}) == {}


def test_ensemble_selection_scores_each_way_of_weighting_the_same_candidates(tmp_path):
    from benchmarks import ensemble_selection as es

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    df["y"] = 2 * df.a + rng.normal(0, 0.5, 120)
    cached = es.candidates(df, "y", "regression", split=0, repeats=1, frameworks=("sklearn",))
    m = len(cached["keys"])
    assert m >= 2 and cached["oof"].shape == (m, 90) and cached["test"].shape == (m, 30)
    assert sorted(cached["eval_rows"]) == list(range(90))  # every training row predicted out of fold once
    path = tmp_path / "toy_split0_r1.npz"
    np.savez(path, **cached)
    rows = es.evaluate(path, "regression")
    assert [r["way"] for r in rows] == [w for w in es.WAYS if w not in es.MEAN_WAYS]  # one draw: nothing to average
    for r in rows:
        assert sum(r["members"].values()) == pytest.approx(1.0, abs=1e-2) and r["scores"]["rmse"] > 0
    assert len(next(r for r in rows if r["way"] == "uniform")["members"]) == m
    assert len(next(r for r in rows if r["way"] == "best")["members"]) == 1
    table = pd.DataFrame([{"dataset": "toy", "source": "dev", "task": "regression", "rows": 120, "split": 0,
                           "commit": "abc", **r} for r in rows])
    d = es.differences(table)
    assert d[d.way == "greedy"].difference.abs().max() == 0  # greedy against itself
    assert "| bagged | 1 |" in es.report(table, "cmd") and "bagged_mean" not in es.report(table, "cmd")
    # Folds drawn twice, a candidate skipped: the ways on each row's averaged predictions join in.
    twice = es.candidates(df, "y", "regression", split=0, repeats=2, frameworks=("sklearn",), skip=("sklearn/rf",))
    assert "sklearn/rf" not in twice["keys"] and twice["oof"].shape == (m - 1, 180)
    np.savez(path, **twice)
    rows = es.evaluate(path, "regression")
    assert [r["way"] for r in rows] == list(es.WAYS)
    for r in rows:
        assert sum(r["members"].values()) == pytest.approx(1.0, abs=1e-2) and r["scores"]["rmse"] > 0
