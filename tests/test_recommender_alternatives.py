"""The alternative rankings script: landmarks, and a nested selection that finds real signal and not noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks import recommender_alternatives as alt


def _table(n_groups: int, signal: bool, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Datasets in groups of 3; XGBoost is the better framework exactly on the large ones when ``signal``,
    at random otherwise. Landmarks and rules carry nothing."""
    rng = np.random.default_rng(seed)
    rows, marks = [], []
    for i in range(3 * n_groups):
        n_rows = int(10 ** rng.uniform(2, 4.5))
        xgb_wins = n_rows > 3000 if signal else bool(rng.random() < 0.5)
        rows.append({"dataset": f"d{i}", "group": f"g{i // 3}", "task": "binary",
                     "meta": {"n_rows": n_rows, "n_used_features": 10, "n_numeric": 10, "n_classes": 2},
                     "sklearn": 0.9 if xgb_wins else 1.0, "xgboost": 1.0 if xgb_wins else 0.9})
        marks.append({"dataset": f"d{i}", **{m: float(rng.uniform(0.6, 0.9)) for m in alt.LANDMARK_MODELS}})
    table = pd.DataFrame(rows).set_index("dataset")
    rules = pd.DataFrame({"sklearn": 1.0, "xgboost": 0.5}, index=table.index)
    return table, pd.DataFrame(marks).set_index("dataset"), rules


@pytest.mark.slow
def test_nested_selection_learns_a_real_rule_and_beats_the_baselines() -> None:
    table, marks, rules = _table(8, signal=True)
    result = alt.evaluate(table, marks, rules)
    nested = result["nested"]
    assert result["datasets"] == 24 and result["groups"] == 8
    assert nested["top1"] >= 0.9 and nested["regret"] <= 0.01
    assert nested["top1"] > result["cells"]["always the best on average"][0]
    assert "Verdict: the nested ranking beats every baseline" in alt.report(result, "abc1234")
    assert result["gap"][alt.NESTED]["gap_closed"] > 0.8 and result["gap"][alt.SBS]["gap_closed"] == 0.0
    assert "By the gap closed, the nested ranking ships" in alt.report(result, "abc1234")


@pytest.mark.slow
def test_nested_selection_finds_nothing_in_noise() -> None:
    table, marks, rules = _table(8, signal=False)
    result = alt.evaluate(table, marks, rules)
    best_cell = max(top1 for top1, _ in result["cells"].values())
    assert result["nested"]["top1"] < 0.8
    assert result["nested"]["top1"] <= best_cell  # the nested row never sees the outer result


def test_landmarks_tell_a_linear_problem_from_a_step() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "c": rng.choice(["x", "y"], size=300)})
    linear = alt.landmarks(X, X.a + 0.5 * X.b + rng.normal(scale=0.1, size=300), "regression")
    step = alt.landmarks(X, (X.a > 0).astype(float) * 3 + rng.normal(scale=0.1, size=300), "regression")
    assert set(linear) == set(alt.LANDMARK_MODELS)
    assert linear["linear"] > 0.95 > linear["stump"]
    assert step["stump"] > 0.95 and step["stump"] > step["linear"]
    binary = alt.landmarks(X, pd.Series(np.where(X.a > 0, "p", "n")), "binary")
    assert all(0.0 <= v <= 1.0 for v in binary.values()) and binary["tree"] > 0.95


def test_repeat_agreement_counts_winners_that_change_between_repeats() -> None:
    frameworks = ("a", "b")

    def row(dataset: str, framework: str, repeats: list[float], constant: float = 0.5) -> dict:
        return {"status": "ok", "dataset": dataset, "framework": framework, "cv_fold_scores": repeats,
                "cv_constant": constant}

    rows = [row("steady", "a", [0.9, 0.9]), row("steady", "b", [0.8, 0.8]),      # a wins both repeats
            row("flips", "a", [0.9, 0.8]), row("flips", "b", [0.8, 0.9]),        # the winner changes
            row("rmse", "a", [1.0, 1.0], 3.0), row("rmse", "b", [2.0, 2.0], 3.0),  # lower is better: a wins
            row("once", "a", [0.9]), row("once", "b", [0.8, 0.8])]               # one repeat: left out
    direction = {"steady": True, "flips": True, "rmse": False, "once": True}
    count, forward, back = alt.repeat_agreement(rows, direction, frameworks)
    assert count == 3
    assert forward == back == 2 / 3
