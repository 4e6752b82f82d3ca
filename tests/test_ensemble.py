"""Greedy ensemble selection over out-of-fold predictions."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.metrics import get_scorer

import automl
from automl.search._ensemble import greedy_selection, score_predictions
from tests.conftest import make_frame


def test_selection_mixes_complementary_models_and_beats_each() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    noise_a, noise_b = rng.normal(0, 0.35, 400), rng.normal(0, 0.35, 400)
    p_a = np.clip(y + noise_a, 0.01, 0.99)
    p_b = np.clip(y + noise_b, 0.01, 0.99)
    bad = rng.random(400)
    preds = {k: np.column_stack([1 - p, p]) for k, p in {0: p_a, 1: p_b, 2: bad}.items()}
    scorer = get_scorer("roc_auc")
    classes = np.array([0, 1])
    weights, score = greedy_selection(preds, y, scorer, classes)
    singles = {k: score_predictions(scorer, p, y, classes) for k, p in preds.items()}
    assert set(weights) == {0, 1} and abs(sum(weights.values()) - 1) < 1e-9
    assert score > max(singles.values())


@pytest.mark.parametrize("metric", ["roc_auc", "neg_log_loss", "accuracy"])
def test_selection_on_label_positions_matches_selection_on_the_labels(metric: str) -> None:
    """Scoring with class positions instead of string labels (6x faster on 36,631 rows) changes nothing."""
    import pandas as pd

    from automl.metrics import resolve_metric
    from automl.search._ensemble import encoded_target

    rng = np.random.default_rng(0)
    classes = np.array(["<=50K", ">50K"], dtype=object)
    y = pd.Series(np.where(rng.random(400) > 0.7, ">50K", "<=50K"), index=rng.permutation(400))
    truth = (y == ">50K").to_numpy().astype(float)
    preds = {k: np.column_stack([1 - p, p]) for k, p in enumerate(
        np.clip(truth + rng.normal(0, s, 400), 0.01, 0.99) for s in (0.3, 0.35, 0.6))}
    m = resolve_metric(metric, "binary")
    y_codes, scorer, codes = encoded_target(y, m, classes)
    assert list(codes) == [0, 1] and list(y_codes[:5]) == [int(v == ">50K") for v in y.iloc[:5]]
    on_labels = greedy_selection(preds, y, m.scorer(classes), classes)
    on_codes = greedy_selection(preds, y_codes, scorer, codes)
    assert on_codes[0] == on_labels[0] and on_codes[1] == pytest.approx(on_labels[1])
    y_num, _, none = encoded_target(y.index.to_series(), resolve_metric("rmse", "regression"), None)
    assert none is None and y_num.equals(y.index.to_series())  # regression: the values as they are


def test_regression_selection_uses_values() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    preds = {0: y + rng.normal(0, 0.5, 300), 1: y + rng.normal(0, 0.5, 300)}
    weights, score = greedy_selection(preds, y, get_scorer("neg_root_mean_squared_error"), None)
    assert len(weights) == 2 and score > max(
        score_predictions(get_scorer("neg_root_mean_squared_error"), p, y, None) for p in preds.values()
    )


@pytest.mark.slow
def test_fit_names_ensemble_members_when_one_wins() -> None:
    # On this frame and seed an ensemble validates better than every single trial.
    r = automl.fit(make_frame("multiclass", n=300), "y", time_budget=60, n_trials=10, seed=1)
    assert r.best_model_family == "ensemble" and len(r.ensemble) >= 2
    assert abs(sum(m["weight"] for m in r.ensemble) - 1) < 1e-3
    assert {"trial", "framework", "model", "weight"} <= set(r.ensemble[0])
    assert "Ensemble:" in r.summary() and r.refit.startswith("ensemble of")
    # 300 rows at 60 s: up to 20 samples, as many as fit in 3% of the budget
    assert re.search(r"; weights averaged over (\d+) bootstrap samples of the out-of-fold rows$", r.refit)
    assert r.best_score > r.leaderboard.score.max()
    proba = r.predict_proba(make_frame("multiclass", n=30, seed=2))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_ensemble_candidates_keep_several_model_families() -> None:
    """Near-copies of one configuration must not crowd every other model out of ensemble selection."""
    import numpy as np

    from automl.search._best import ENSEMBLE_CANDIDATES, ENSEMBLE_PER_MODEL, Candidates

    candidates = Candidates()
    for n in range(30):  # thirty LightGBM trials, each better than the last
        candidates.remember(n, 0.9 + n / 1000, np.zeros(3), 0.1, "lightgbm/gbdt")
    for n in range(30, 33):  # three weaker linear models
        candidates.remember(n, 0.8, np.zeros(3), 0.1, "sklearn/linear")
    kept = sorted(candidates.entries)
    assert kept == [26, 27, 28, 29, 30, 31, 32]  # the best ENSEMBLE_PER_MODEL LightGBM trials, and the linear ones
    assert ENSEMBLE_PER_MODEL == 4 and len(kept) <= ENSEMBLE_CANDIDATES
    assert {e.model for e in candidates.entries.values()} == {"lightgbm/gbdt", "sklearn/linear"}


def test_the_best_trial_of_every_family_stays_a_candidate_however_weak() -> None:
    """A network that never wins alone must still reach ensemble selection (it may add diversity)."""
    from automl.search._best import ENSEMBLE_CANDIDATES, Candidates

    candidates = Candidates()
    candidates.remember(0, 0.70, np.zeros(3), 0.1, "torch/tabm")  # first, and weaker than all that follow
    candidates.remember(1, 0.65, np.zeros(3), 0.1, "torch/tabm")
    families = ["xgboost/gbtree", "lightgbm/gbdt", "catboost/catboost", "sklearn/hgb", "sklearn/forest"]
    number = 2
    for family in families:
        for k in range(5):
            candidates.remember(number, 0.9 + k / 100, np.zeros(3), 0.1, family)
            number += 1
    kept = candidates.entries
    assert len(kept) == ENSEMBLE_CANDIDATES
    assert 0 in kept and 1 not in kept  # the network family's best stays, its second best does not
    assert {e.model for e in kept.values()} == {"torch/tabm", *families}


def test_the_result_says_why_no_ensemble_replaced_the_best_model(monkeypatch) -> None:
    import automl.search._ensemble

    df = make_frame("binary", n=200)
    one = automl.fit(df, "y", time_budget=30, n_trials=1, frameworks=["sklearn"], seed=0)
    assert one.refit.endswith("; no ensemble: fewer than 2 trials to combine") and not one.ensemble

    # Selection that never beats the best trial: the result says so, with the score to beat.
    monkeypatch.setattr(automl.search._ensemble, "greedy_selection", lambda preds, *a: ({min(preds): 1.0}, -1e9))
    kept = automl.fit(df, "y", time_budget=30, n_trials=4, frameworks=["sklearn"], seed=0)
    assert "; no ensemble: none validated better than the best trial (roc_auc " in kept.refit
    assert kept.best_model_family != "ensemble" and f"Final model: {kept.refit}" in kept.summary()


@pytest.mark.slow
def test_an_ensemble_that_validates_better_but_cannot_be_refitted_in_time_is_named(monkeypatch) -> None:
    import automl.search._ensemble
    import automl.search._refit
    import automl.search._time_plan

    def better_but_late(preds, *args):  # two trials win; from here on no time is left
        monkeypatch.setattr(automl.search._time_plan, "FINISH_SECONDS", 1e6)
        chosen = sorted(preds)[:2]  # on smaller pools too, down to one trial (no ensemble)
        return {n: 1 / len(chosen) for n in chosen}, 1e9

    monkeypatch.setattr(automl.search._ensemble, "greedy_selection", better_but_late)
    # The time plan's own selection during the search (its reserve) must not end the time early.
    monkeypatch.setattr(automl.search._refit.Refitter, "likely_members", lambda self: {})
    r = automl.fit(make_frame("binary", n=200), "y", time_budget=30, n_trials=4, frameworks=["sklearn"], seed=0,
                   # the refit's path (by default small data needs none), one greedy pass (the one patched)
                   search_options={"bagging": "medium", "selection": "greedy"})
    assert "; no ensemble: one of 2 trials validated better (1e+09) but refitting its other members needed ~" in r.refit
    assert "costliest validated better" in r.refit  # cheaper selections were tried first: none fitted either
    assert r.best_model_family != "ensemble" and not r.ensemble
    assert not any("validated better" in m for m in r.messages)  # said once, in the final model's line


def test_bootstrapped_selection_draws_a_rows_predictions_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """With repeated cross-validation each row has one out-of-fold prediction per repeat: a bootstrap
    sample takes all of a drawn row's, as often as the row was drawn."""
    from automl.search import _ensemble

    groups = np.tile(np.arange(50), 3)  # 50 rows, 3 repeats: the search's eval_index
    seen: list[np.ndarray] = []
    real = _ensemble.greedy_selection

    def spy(predictions, y, scorer, classes, rounds=25):  # type: ignore[no-untyped-def]
        seen.append(np.asarray(predictions[0]).astype(int))  # candidate 0 predicts its own position
        return real(predictions, y, scorer, classes, rounds)

    monkeypatch.setattr(_ensemble, "greedy_selection", spy)
    rng = np.random.default_rng(0)
    y = rng.normal(size=150)
    preds = {0: np.arange(150.0), 1: y + rng.normal(0, 0.3, 150)}
    _ensemble.bootstrapped_selection(preds, y, get_scorer("neg_root_mean_squared_error"), None, groups=groups,
                                     samples=4, seed=0)
    assert len(seen) == 4
    for positions in seen:
        drawn = np.bincount(groups[positions], minlength=50)
        for row in range(50):  # a row's three positions appear equally often
            counts = np.bincount(positions[groups[positions] == row], minlength=150)[groups == row]
            assert (counts == drawn[row] // 3).all()
        assert len(positions) == 150 and (drawn == 0).any() and (drawn > 3).any()


def test_bootstrapped_selection_averages_passes_and_scores_the_blend_on_all_rows() -> None:
    from automl.search._ensemble import bootstrapped_selection

    rng = np.random.default_rng(2)
    y = rng.normal(size=200)
    preds = {k: y + rng.normal(0, 0.6, 200) for k in range(6)}  # six equally good, independent candidates
    scorer = get_scorer("neg_root_mean_squared_error")
    weights, score = bootstrapped_selection(preds, y, scorer, None, groups=np.arange(200), samples=20, seed=0)
    again = bootstrapped_selection(preds, y, scorer, None, groups=np.arange(200), samples=20, seed=0)
    one_pass, _ = greedy_selection(preds, y, scorer, None)
    assert again == (weights, score)  # seeded
    assert sum(weights.values()) == pytest.approx(1.0) and list(weights.values()) == sorted(weights.values())[::-1]
    assert len(weights) >= len(one_pass)  # passes on different rows pick different members
    blend = sum(w * preds[k] for k, w in weights.items())
    assert score == pytest.approx(score_predictions(scorer, blend, y, None))
    assert score > max(score_predictions(scorer, p, y, None) for p in preds.values())


def test_bootstrapped_selection_scores_probabilities_its_averaged_weights_push_past_one() -> None:
    """Weights averaged over 7 passes sum to 1 only to float precision: certain rows blended to
    1.0000000000000002 made log loss raise (a Keras + PyTorch search on 160 rows)."""
    import pandas as pd

    from automl.metrics import resolve_metric
    from automl.search._ensemble import bootstrapped_selection, encoded_target

    rng = np.random.default_rng(20)
    y = rng.integers(0, 3, 150)
    preds = {}
    for k in range(5):
        p = np.eye(3)[y] * 0.6 + rng.random((150, 3)) * 0.4
        p[:20] = np.eye(3)[y[:20]]  # certain on 20 rows
        preds[k] = p / p.sum(axis=1, keepdims=True)
    y_codes, scorer, codes = encoded_target(pd.Series(y), resolve_metric(None, "multiclass"), np.arange(3))
    weights, score = bootstrapped_selection(preds, y_codes, scorer, codes, groups=np.arange(150), samples=7, seed=20)
    assert sum(w * preds[n] for n, w in weights.items()).max() > 1  # the case: past one before normalising
    assert np.isfinite(score) and score > -1


def test_bootstrapped_selection_skips_a_sample_that_leaves_a_rare_class_out() -> None:
    """One-vs-rest ROC AUC is undefined without every class: such a sample is not scored."""
    from automl.search._ensemble import bootstrapped_selection

    rng = np.random.default_rng(4)
    y = np.array([0] * 60 + [1] * 59 + [2])  # the one row of class 2 is missing from 2 of the 10 samples
    onehot = np.eye(3)[y]
    preds = {k: (onehot + rng.random((120, 3))) / (1 + rng.random((120, 1)) * 3) for k in range(3)}
    preds = {k: p / p.sum(axis=1, keepdims=True) for k, p in preds.items()}
    scorer = get_scorer("roc_auc_ovr")
    weights, score = bootstrapped_selection(preds, y, scorer, np.arange(3), groups=np.arange(120), samples=10, seed=0)
    assert sum(weights.values()) == pytest.approx(1.0) and np.isfinite(score)


@pytest.mark.parametrize(("rows", "budget", "selection", "bootstrapped"), [
    (300, 60.0, "bootstrap", True), (300, 0.01, "bootstrap", False), (5000, 300.0, "bootstrap", False),
    (300, 60.0, "greedy", False),
])
def test_the_search_bootstraps_the_weights_on_small_data_when_time_allows(
    rows: int, budget: float, selection: str, bootstrapped: bool
) -> None:
    """Small data (<= 1,000 rows): greedy selection averaged over bootstrap samples, as many as fit in 3% of
    the budget at one pass's pace, and none below 5; larger data, or ``selection="greedy"``: one pass."""
    import types

    import pandas as pd

    from automl.search._refit import Refitter

    rng = np.random.default_rng(3)
    y = pd.Series(rng.normal(size=rows))
    preds = {k: y.to_numpy() + rng.normal(0, 0.6, rows) for k in range(4)}
    refitter = types.SimpleNamespace(y=y, eval_index=np.arange(rows), selection_samples=0,
                                     settings=types.SimpleNamespace(time_budget=budget, seed=0, selection=selection))
    weights, _ = Refitter.select(refitter, preds, y, get_scorer("neg_root_mean_squared_error"), None, np.arange(rows))  # type: ignore[arg-type]
    assert (refitter.selection_samples >= 5) is bootstrapped
    assert refitter.selection_samples <= 20 and sum(weights.values()) == pytest.approx(1.0)
    if not bootstrapped:
        assert weights == greedy_selection(preds, y, get_scorer("neg_root_mean_squared_error"), None)[0]


def test_average_repeats_averages_each_rows_predictions_over_the_repeats() -> None:
    """The search's eval_index names each out-of-fold prediction's row; with 5 folds drawn 3 times every
    row appears 3 times, in a different order per repeat."""
    from automl.search._ensemble import average_repeats

    rng = np.random.default_rng(4)
    groups = np.concatenate([rng.permutation(40) for _ in range(3)])
    truth = rng.normal(size=40)
    y = truth[groups]
    values = truth[groups] + rng.normal(0, 1, 120)
    proba = rng.dirichlet(np.ones(3), size=120)
    averaged, y_rows, rows = average_repeats({0: values, 1: proba}, y, groups)
    assert (rows == np.arange(40)).all() and np.allclose(y_rows, truth)
    for row in (0, 17, 39):
        assert averaged[0][row] == pytest.approx(values[groups == row].mean())
        assert np.allclose(averaged[1][row], proba[groups == row].mean(axis=0))
    assert np.allclose(averaged[1].sum(axis=1), 1.0)
    # Without repeats nothing changes but the order (by row).
    once = rng.permutation(40)
    same, y_once, _ = average_repeats({0: truth[once]}, truth[once], once)
    assert np.allclose(same[0], truth) and np.allclose(y_once, truth)


def test_selection_scores_a_bag_by_its_predictions_averaged_over_the_repeats() -> None:
    """A candidate whose single fold models are noisy but whose average is good (a network) loses to a
    steady, biased one on the pooled predictions and wins on the averaged ones, which is how the final
    model (the fold models averaged) predicts. Pooled: with ``selection_rows="pooled"``, or a refit."""
    import types

    import pandas as pd

    from automl.metrics import resolve_metric
    from automl.search._refit import Refitter

    rng = np.random.default_rng(5)
    groups = np.concatenate([rng.permutation(300) for _ in range(3)])
    truth = rng.normal(size=300)
    noisy = truth[groups] + rng.normal(0, 0.9, 900)  # independent noise per repeat: averaging removes 2/3
    biased = (truth + rng.normal(0, 0.75, 300))[groups]  # the same error in every repeat

    def judged(selection_rows: str, bagged: bool):  # type: ignore[no-untyped-def]
        settings = types.SimpleNamespace(time_budget=60.0, seed=0, selection="greedy", selection_rows=selection_rows)
        refitter = Refitter(
            None, pd.Series(truth), None, resolve_metric(None, "regression"), {}, settings,  # type: ignore[arg-type]
            plan=types.SimpleNamespace(bagged=bagged), best=None, candidates=None, cores=None,  # type: ignore[arg-type]
            interrupts=None, eval_index=groups, classes=None, messages=[],  # type: ignore[arg-type]
        )
        return refitter._judged({0: noisy, 1: biased})

    preds, y_rows, scorer, _, rows = judged("averaged", True)
    assert len(y_rows) == 300 and (rows == np.arange(300)).all()
    assert score_predictions(scorer, preds[0], y_rows, None) > score_predictions(scorer, preds[1], y_rows, None)
    for selection_rows, bagged in (("pooled", True), ("averaged", False)):
        same, y_same, scorer, _, same_rows = judged(selection_rows, bagged)
        assert same[0] is noisy and same_rows is groups
        assert score_predictions(scorer, noisy, y_same, None) < score_predictions(scorer, biased, y_same, None)


@pytest.mark.cv_repeats
def test_a_search_with_repeated_folds_selects_on_each_rows_averaged_predictions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end: 120 rows, 5 folds drawn 3 times, fold models kept: every selection (the time plan's
    reserve and the final one) sees 120 rows, not the 360 predictions side by side."""
    from automl.search._refit import Refitter

    seen: list[int] = []
    real = Refitter.select

    def spy(self, preds, y_eval, scorer, classes, groups):  # type: ignore[no-untyped-def]
        seen.append(len(groups))
        assert all(len(p) == len(groups) for p in preds.values()) and len(np.unique(groups)) == len(groups)
        return real(self, preds, y_eval, scorer, classes, groups)

    monkeypatch.setattr(Refitter, "select", spy)
    r = automl.fit(make_frame("binary", n=120), "y", n_trials=2, frameworks=["sklearn"], verbosity=0, seed=0)
    assert seen and set(seen) == {120}
    if r.best_model_family == "ensemble":
        assert r.refit.endswith("(each row's predictions averaged over 3 repeats)")
