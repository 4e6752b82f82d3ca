"""The learned recommender: its model file, its ranking and costs, explanations and the trainer."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender import detect_hardware, profile_dataset, recommend_frameworks
from recommender.learned import GROWTH_FILE, LearnedModel, LearnedRanker, Linear, Neighbours, RowGrowth, load_model
from recommender.meta import FEATURES, feature_vector, meta_features
from tests.conftest import make_frame


def _linear(intercept: float, coef_rows: float = 1.0) -> Linear:
    d = len(FEATURES)
    coef = np.zeros(d)
    coef[FEATURES.index("log_rows")] = coef_rows
    return Linear(FEATURES, np.zeros(d), np.ones(d), coef, intercept)


def _model() -> LearnedModel:
    """Two reference datasets: on the small one sklearn wins, on the large one xgboost does."""
    small = feature_vector({"n_rows": 200, "n_used_features": 5, "encoded_width": 5}, "binary")
    large = feature_vector({"n_rows": 200_000, "n_used_features": 5, "encoded_width": 5}, "binary")
    X = np.vstack([small, large])
    mean, scale = X.mean(axis=0), np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    scores = {"sklearn": np.array([1.0, 0.90]), "xgboost": np.array([0.95, 1.0]), "lightgbm": np.array([0.9, np.nan])}
    neighbours = Neighbours(mean, scale, (X - mean) / scale, ("small", "large"), scores, k=1)
    cost = {"sklearn": _linear(-5.0), "xgboost": _linear(-5.5)}  # log10 s = log10 rows - 5 (-5.5)
    return LearnedModel(neighbours, cost, {}, {"sklearn": _linear(1.0, 0.0)}, {"datasets": 2})


def test_model_file_round_trips_and_bad_files_are_refused(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "m.json"
    model.save(path)
    loaded = load_model(path)
    assert loaded is not None
    meta = {"n_rows": 300, "n_used_features": 5, "encoded_width": 5}
    assert loaded.expected_scores(meta, "binary") == model.expected_scores(meta, "binary")
    assert loaded.fold_seconds("sklearn", meta, "binary", 1000) == pytest.approx(1000 * 1e-5)
    d = json.loads(path.read_text())
    for broken in ({**d, "format_version": 99}, {**d, "features": ["other"]}, {**d, "format": "x"}, {"format": 1}):
        path.write_text(json.dumps(broken))
        load_model.cache_clear()
        assert load_model(path) is None
    path.write_text("{not json")
    load_model.cache_clear()
    assert load_model(path) is None
    assert load_model(tmp_path / "absent.json") is None


def test_learned_ranker_follows_the_similar_datasets_and_its_costs() -> None:
    hw = detect_hardware()
    ranker = LearnedRanker(_model())
    small = profile_dataset(make_frame("binary", n=200), "y")
    rec = recommend_frameworks(small, hw, frameworks=["sklearn", "xgboost", "lightgbm"], ranker=ranker)
    assert rec.ranker == "learned"
    assert rec.frameworks[0] == "sklearn"
    top = rec.candidates[0]
    assert top.reasons[0].startswith("expected 1.000 of the best framework's score")
    assert top.seconds_per_fit == pytest.approx(200 * 1e-5)  # the learned cost, one core
    assert "learned: ~" in top.reasons[-1]
    assert rec.explanation[0].startswith("200 rows, 5 features")
    assert "scikit-learn first, then XGBoost" in rec.explanation[0]  # no evidence in this model: no figure


def test_costs_beyond_the_meta_datasets_rows_grow_by_the_measured_exponent(tmp_path: Path) -> None:
    meta = {"n_rows": 100_000, "n_used_features": 5, "encoded_width": 5}
    plain = _model()  # log10 s = log10 rows - 5: linear in the rows
    grown = replace(plain, growth=RowGrowth(1_000, {"sklearn": 2.0}, {}))
    assert grown.fold_seconds("sklearn", meta, "binary", 500) == plain.fold_seconds("sklearn", meta, "binary", 500)
    # at 10,000 rows: the learned 0.01 s at 1,000 rows, times (10,000 / 1,000) ** 2
    assert grown.fold_seconds("sklearn", meta, "binary", 10_000) == pytest.approx(1.0)
    assert plain.fold_seconds("sklearn", meta, "binary", 10_000) == pytest.approx(0.1)
    # a framework without a measured exponent keeps the learned extrapolation
    assert grown.fold_seconds("xgboost", meta, "binary", 10_000) == plain.fold_seconds("xgboost", meta, "binary",
                                                                                      10_000)
    # load_model reads the row_growth.json beside the model file; a bad one is ignored
    path = tmp_path / "learned_model.json"
    plain.save(path)
    growth_file = tmp_path / GROWTH_FILE.name
    growth_file.write_text(json.dumps(RowGrowth(1_000, {"sklearn": 2.0}, {"commit": "x"}).to_dict()))
    load_model.cache_clear()
    loaded = load_model(path)
    assert loaded is not None and loaded.growth == RowGrowth(1_000, {"sklearn": 2.0}, {"commit": "x"})
    for bad in ({"format": "automl-row-growth", "rows": 1_000, "exponent": {"sklearn": -1}}, {"rows": 5}):
        growth_file.write_text(json.dumps(bad))
        load_model.cache_clear()
        reloaded = load_model(path)
        assert reloaded is not None and reloaded.growth is None
    load_model.cache_clear()
    # the recommendation says so where it applies
    prof = profile_dataset(make_frame("binary", n=2_000), "y")
    rec = recommend_frameworks(prof, detect_hardware(), frameworks=["sklearn"], ranker=LearnedRanker(grown))
    assert "beyond the meta-dataset's 1,000 rows, grown as rows^2.00, measured" in rec.candidates[0].reasons[-1]
    assert rec.candidates[0].seconds_per_fit == pytest.approx(0.01 * 2.0**2)


def test_the_shipped_row_growth_is_fitted_on_uncut_fits_from_10000_rows(tmp_path: Path) -> None:
    from benchmarks.cost_growth import ship

    def fit(framework: str, rows: int, seconds: float, cut: bool = False, threads: int = 1) -> dict:
        return {"framework": framework, "family": "f", "dataset": "scale", "rows": rows, "seconds": seconds,
                "cut": cut, "commit": "abc", "threads": threads}

    results = tmp_path / "cost_growth.jsonl"
    fits = [fit("sklearn", 3_000, 9.0), fit("sklearn", 10_000, 1.0), fit("sklearn", 100_000, 10.0),
            fit("sklearn", 1_000_000, 30.0, cut=True), fit("torch", 10_000, 5.0), fit("torch", 30_000, 90, cut=True),
            fit("torch", 100_000, 50.0, threads=2)]  # two threads: a speed-up, not the cost model's unit
    results.write_text("\n".join(json.dumps(f) for f in fits) + "\n")
    trials = tmp_path / "metadata_trials.jsonl"
    trials.write_text(json.dumps({"fold_train_rows": 8_000.0}) + "\n" + json.dumps({"fold_train_rows": 12_000}))
    target = tmp_path / "row_growth.json"
    shipped = ship(results, "scale", target, trials)
    assert shipped.rows == 12_000
    assert shipped.exponent == {"sklearn": pytest.approx(1.0)}  # torch: one uncut fit, no exponent
    assert RowGrowth.from_dict(json.loads(target.read_text())) == shipped


def test_the_thread_speedup_pairs_fits_of_the_same_size_and_skips_cut_ones() -> None:
    from benchmarks.cost_growth import speedups

    rows = pd.DataFrame([
        {"framework": "xgboost", "rows": 30_000, "seconds": 4.0, "cut": False},  # written before --threads
        {"framework": "xgboost", "rows": 30_000, "seconds": 2.5, "cut": False, "threads": 2},
        {"framework": "xgboost", "rows": 100_000, "seconds": 9.0, "cut": False, "threads": 1},
        {"framework": "xgboost", "rows": 100_000, "seconds": 60.0, "cut": True, "threads": 2},
        {"framework": "lightgbm", "rows": 30_000, "seconds": 1.0, "cut": False, "threads": 2},  # no one-thread fit
    ])
    gains = speedups(rows)
    assert gains.to_dict("records") == [{"framework": "xgboost", "rows": 30_000, "threads": 2, "one_thread_s": 4.0,
                                         "seconds": 2.5, "speedup": 1.6}]


def test_frameworks_the_model_has_not_seen_rank_after_the_others() -> None:
    ranker = LearnedRanker(_model())
    prof = profile_dataset(make_frame("binary", n=200), "y")
    rec = recommend_frameworks(prof, detect_hardware(), frameworks=["sklearn", "xgboost", "catboost"], ranker=ranker)
    assert rec.frameworks[-1] == "catboost"
    assert rec.candidates[-1].reasons[0].startswith("no learned estimate for CatBoost")


def test_meta_features_are_what_the_meta_dataset_records() -> None:
    prof = profile_dataset(make_frame("multiclass", n=300), "y")
    meta = meta_features(prof)
    assert meta["n_rows"] == 300 and meta["n_classes"] == 3
    x = feature_vector(meta, "multiclass")
    assert x.shape == (len(FEATURES),) and np.isfinite(x).all()
    assert x[FEATURES.index("multiclass")] == 1.0


def test_gpu_counterfactual_only_where_it_matters() -> None:
    from dataclasses import replace

    machine = detect_hardware(refresh=True)
    hw = replace(machine, gpus=(), frameworks={
        name: replace(st, can_use_gpu=False) for name, st in machine.frameworks.items()
    })  # this machine without any GPU, whatever it has
    small = profile_dataset(make_frame("binary", n=300), "y")
    assert not any("with a GPU" in e for e in recommend_frameworks(small, hw).explanation)
    big = profile_dataset(make_frame("binary", n=400_000), "y")
    rec = recommend_frameworks(big, hw, frameworks=["xgboost", "sklearn"], time_budget=3600)
    assert any(e.startswith("with a GPU, XGBoost would be") for e in rec.explanation)


def test_trainer_and_grouped_evaluation_on_a_synthetic_meta_dataset() -> None:
    from benchmarks.recommender_model import (
        LEARNED_FRAMEWORK,
        LEARNED_MEMORY,
        LEARNED_TRIAL,
        LEARNED_TYPICAL,
        evaluate,
        report,
        train,
    )

    rng = np.random.default_rng(0)
    runs, trials = [], []
    for i in range(12):
        rows = int(10 ** rng.uniform(2, 4.5))
        winner = "sklearn" if rows < 3000 else "xgboost"
        meta = {"n_rows": rows, "n_features": 6, "n_used_features": 6, "encoded_width": 6.0, "n_classes": 2,
                "missing_ratio": 0.0, "imbalance_ratio": 1.0, "n_numeric": 6}
        for fw in ("sklearn", "xgboost"):
            seconds = rows * (2e-5 if fw == "sklearn" else 1e-5)
            run = {"status": "ok", "dataset": f"d{i}", "group": f"g{i // 2}", "task": "binary", "framework": fw,
                   "normalised_score": 1.0 if fw == winner else 0.9, "fold_seconds_median": seconds,
                   "fold_train_rows": rows * 0.8, "peak_mb": 200.0, "baseline_mb": 130.0,
                   "rule_based.score": 0.7 if fw == "xgboost" else 0.6, "rule_based.seconds_per_fit": seconds,
                   "meta.n_rows": rows, "budget": 10.0}
            run.update({f"meta.{k}": v for k, v in meta.items()})
            runs.append(run)
            for t in range(6):
                trials.append({"dataset": f"d{i}", "framework": fw, "task": "binary", "state": "COMPLETE",
                               "truncated": False, "family": "m", "config": {"n": 10 * (t + 1)},
                               "fold_seconds": seconds * (1 + t / 10), "fold_train_rows": rows * 0.8})
    runs_df, trials_df = pd.DataFrame(runs), pd.DataFrame(trials)
    result = evaluate(runs_df, trials_df, ["sklearn", "xgboost"])
    assert result["datasets"] == 12 and result["groups"] == 6
    assert result["ranking"]["learned (k-NN, nested selection)"]["top1"] >= result["ranking"]["always XGBoost"]["top1"]
    assert result["cost"][LEARNED_TRIAL]["within_2x"] > 0.9
    assert result["cost"][LEARNED_TYPICAL]["within_2x"] > 0.9
    assert result["run_cost"][LEARNED_FRAMEWORK]["runs"] == 24
    assert result["run_cost"][LEARNED_FRAMEWORK]["within_2x"] > 0.9
    assert result["memory"][LEARNED_MEMORY]["runs"] == 24
    assert result["memory"][LEARNED_MEMORY]["median_abs_log_ratio"] == pytest.approx(0.0, abs=1e-6)  # 70 MB each
    assert "| typical trial of a search" in report(result) and "| memory a search adds" in report(result)
    assert "| gap closed (SBS 0%, oracle 100%) |" in report(result)
    assert result["ranking"]["always the best on average"]["gap_closed"] == pytest.approx(0.0)
    model = train(runs_df, trials_df, ["sklearn", "xgboost"])
    assert set(model.frameworks) == {"sklearn", "xgboost"}
    assert set(model.trial_seconds) == {"sklearn", "xgboost"}
    assert result["label"] == "holdout" and list(result["rankings"]) == ["holdout"]  # no cross-validated scores

    # Holdout winners flipped at random (a noisy label), cross-validated ones following the size: the
    # ranking is trained and judged on the cross-validated scores, the holdout table is shown beside it.
    flip = {f"d{i}": bool(rng.integers(0, 2)) for i in range(12)}
    runs_df["normalised_cv"], runs_df["cv_score"] = runs_df.normalised_score, runs_df.normalised_score
    runs_df["normalised_score"] = [
        (1.9 - s) if flip[d] else s for d, s in zip(runs_df.dataset, runs_df.normalised_score, strict=True)
    ]
    result = evaluate(runs_df, trials_df, ["sklearn", "xgboost"])
    assert result["label"] == "cv" and list(result["rankings"]) == ["cv", "holdout"]
    assert result["ranking"] == result["rankings"]["cv"]["ranking"]
    assert result["ranking"]["learned (k-NN, nested selection)"]["top1"] >= 0.8
    text = report(result)
    assert "scores cross-validated on all rows (decides what ships)" in text
    assert "scores 25% holdout (for comparison)" in text
    unflipped = 1 - sum(flip.values()) / len(flip)
    assert result["agreement"] == {"datasets": 12, "holdout_best_hits_cv": pytest.approx(unflipped),
                                   "cv_best_hits_holdout": pytest.approx(unflipped)}
    assert f"is a hit by cross-validation on {unflipped:.0%} of them" in text
    score = train(runs_df, trials_df, ["sklearn", "xgboost"], "cv").score
    sklearn = runs_df[runs_df.framework == "sklearn"].set_index("dataset")
    assert dict(zip(score.datasets, score.scores["sklearn"].tolist(), strict=True)) == {
        d: 1.0 if rows < 3000 else 0.9 for d, rows in sklearn["meta.n_rows"].items()
    }


def test_neighbour_scores_shrink_towards_the_mean_and_use_the_chosen_columns() -> None:
    from recommender.learned import Neighbours
    from recommender.meta import FEATURES

    X = np.zeros((4, len(FEATURES)))
    X[:, 0] = [0.0, 1.0, 2.0, 3.0]  # log_rows
    X[:, 1] = [3.0, 2.0, 1.0, 0.0]  # log_features: the opposite order
    scores = {"a": np.array([1.0, 0.0, 0.0, 0.0])}
    near0 = np.zeros(len(FEATURES))
    by_rows = Neighbours(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), X, ("d0", "d1", "d2", "d3"), scores, 1,
                         (0,), 1.0)
    assert by_rows.predict(near0)["a"] == (1.0, ["d0"])
    by_features = Neighbours(by_rows.mean, by_rows.scale, X, by_rows.datasets, scores, 1, (1,), 1.0)
    assert by_features.predict(near0)["a"] == (0.0, ["d3"])
    halfway = Neighbours(by_rows.mean, by_rows.scale, X, by_rows.datasets, scores, 1, (0,), 0.5)
    assert halfway.predict(near0)["a"][0] == pytest.approx(0.25 + 0.5 * (1.0 - 0.25))
    again = Neighbours.from_dict(json.loads(json.dumps(halfway.to_dict())))
    assert again.columns == (0,) and again.shrink == 0.5 and again.predict(near0) == halfway.predict(near0)


def test_a_model_without_a_score_part_ranks_by_the_rules_and_costs_by_the_model(tmp_path: Path) -> None:
    from recommender.ranking import RuleBasedRanker

    full = _model()
    model = LearnedModel(None, full.seconds_per_fold, full.trial_seconds, full.memory_mb, {"datasets": 2})
    path = tmp_path / "m.json"
    model.save(path)
    loaded = load_model(path)
    assert loaded is not None and loaded.score is None
    assert loaded.frameworks == ["sklearn", "xgboost"]
    assert loaded.expected_scores({"n_rows": 300}, "binary") == {}
    prof = profile_dataset(make_frame("binary", n=200), "y")
    hw = detect_hardware()
    names = ["sklearn", "xgboost", "lightgbm"]
    rec = recommend_frameworks(prof, hw, frameworks=names, ranker=LearnedRanker(loaded))
    rules = recommend_frameworks(prof, hw, frameworks=names, ranker=RuleBasedRanker())
    assert rec.ranker == "rule-based, learned costs"
    assert [c.score for c in rec.candidates] == [c.score for c in rules.candidates]
    by_name = {c.framework: c for c in rec.candidates}
    assert by_name["sklearn"].seconds_per_fit == pytest.approx(200 * 1e-5)  # learned
    assert by_name["lightgbm"].seconds_per_fit == pytest.approx(  # no learned cost: the rule's
        {c.framework: c for c in rules.candidates}["lightgbm"].seconds_per_fit
    )


@pytest.mark.parametrize(("learned_rank", "learned_cost", "expected"), [
    ((0.05, 0.030), (0.40, 0.75), {"score": True, "cost": True}),
    ((-0.05, 0.030), (0.40, 0.75), {"score": False, "cost": True}),  # interval's lower bound below 0%
    ((0.05, 0.050), (0.40, 0.75), {"score": False, "cost": True}),  # regret worse than one baseline
    ((0.05, 0.030), (1.40, 0.75), {"score": True, "cost": False}),  # cost: worse median ratio
    ((-0.30, 0.060), (0.40, 0.20), {"score": False, "cost": False}),
])
def test_only_parts_that_beat_what_they_replace_ship(learned_rank, learned_cost, expected) -> None:
    from benchmarks.recommender_model import LEARNED_RANKING, LEARNED_TYPICAL, parts_to_ship

    def rank(gap_low: float, regret: float) -> dict:  # the top-1 hit rate is context, not a criterion
        return {"datasets": 10, "top1": 0.0, "regret": regret, "gap_low": gap_low}

    def cost(ratio: float, within: float) -> dict:
        return {"trials": 100, "median_abs_log_ratio": ratio, "within_2x": within}

    result = {
        "ranking": {LEARNED_RANKING: rank(*learned_rank), "always XGBoost": rank(0.40, 0.046),
                    "always the best on average": rank(0.375, 0.040), "rule-based": rank(0.40, 0.062)},
        "cost": {LEARNED_TYPICAL: cost(*learned_cost), "rule-based": cost(1.26, 0.23)},
    }
    assert parts_to_ship(result) == expected


def test_cut_fits_are_lower_bounds_in_the_cost_fit_and_its_evaluation() -> None:
    from benchmarks._censored import censored_ridge
    from benchmarks.recommender_model import cost_error
    from benchmarks.recommender_model import ridge as trainer_ridge

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 3, 400)
    true = 0.5 + 1.0 * x + rng.normal(0, 0.2, 400)
    X = x.reshape(-1, 1)
    # Nothing cut: the censored fit is the ridge.
    exact = censored_ridge(X, true, np.zeros(400, dtype=bool), ["x"], 1.0)
    reference = trainer_ridge(X, true, ["x"])
    for at in (0.0, 1.5, 3.0):
        assert exact.predict(np.array([at])) == pytest.approx(reference.predict(np.array([at])), abs=0.01)
    # Fits cut at a deadline of 10**2 (log10 seconds 2): leaving them out, or taking the cut value as the
    # measurement, both learn the large fits too cheap; the censored fit recovers the slope (predictions
    # are clipped at 10x the largest value seen, here 3.0).
    cut = true > 2.0
    seen = np.where(cut, 2.0, true)
    censored = censored_ridge(X, seen, cut, ["x"], 1.0)
    as_measured = trainer_ridge(X, seen, ["x"])
    left_out = trainer_ridge(X[~cut], seen[~cut], ["x"])
    at_top = np.array([2.4])  # true 2.9
    assert censored.predict(at_top) == pytest.approx(2.9, abs=0.1)
    assert as_measured.predict(at_top) < 2.6 and left_out.predict(at_top) < 2.75
    # The evaluation: a prediction above a lower bound is no error, one below it is.
    assert cost_error(20.0, 10.0, lower_bound=True) == 0.0
    assert cost_error(5.0, 10.0, lower_bound=True) == pytest.approx(np.log(0.5))
    assert cost_error(20.0, 10.0) == pytest.approx(np.log(2.0))
