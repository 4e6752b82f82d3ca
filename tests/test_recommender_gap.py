"""The gap closed between the single best solver and the oracle, and its paired bootstrap interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.recommender_gap import Pick, bootstrap_gap, figures, gap_closed, ships, table_lines


def _table() -> tuple[list[Pick], list[Pick], list[Pick]]:
    """Six datasets in four groups: the oracle's best, the SBS's and a ranker's choice on each."""
    best = [1.0, 0.9, 0.8, 1.0, 0.7, 0.95]
    sbs = [0.9, 0.9, 0.6, 0.95, 0.5, 0.95]  # regrets 0.1, 0, 0.2, 0.05, 0.2, 0 -> mean 0.0917
    mine = [1.0, 0.85, 0.8, 0.95, 0.6, 0.95]  # regrets 0, 0.05, 0, 0.05, 0.1, 0 -> mean 0.0333
    groups = ["a", "a", "b", "c", "d", "d"]

    def picks(chosen: list[float]) -> list[Pick]:
        return [Pick(g, b, c, max(b - 0.01, c)) for g, b, c in zip(groups, best, chosen, strict=True)]

    return picks(sbs), picks(mine), picks(best)


def test_gap_closed_is_zero_at_the_sbs_one_at_the_oracle_and_negative_below_the_sbs() -> None:
    assert gap_closed(0.1, 0.1) == 0.0
    assert gap_closed(0.1, 0.0) == 1.0
    assert gap_closed(0.1, 0.05) == pytest.approx(0.5)
    assert gap_closed(0.1, 0.15) == pytest.approx(-0.5)
    assert math.isnan(gap_closed(0.0, 0.0))  # no gap to close


def test_a_ranker_equal_to_the_oracle_closes_all_of_the_gap_and_one_equal_to_the_sbs_none() -> None:
    sbs, mine, oracle = _table()
    as_oracle = figures(oracle, sbs, 0.005)
    assert as_oracle["gap_closed"] == 1.0 and as_oracle["gap_low"] == as_oracle["gap_high"] == 1.0
    assert as_oracle["regret"] == 0.0 and as_oracle["top1"] == 1.0 and ships(as_oracle)
    as_sbs = figures(sbs, sbs, 0.005)
    assert as_sbs["gap_closed"] == 0.0 and as_sbs["gap_low"] == as_sbs["gap_high"] == 0.0 and not ships(as_sbs)
    row = figures(mine, sbs, 0.005)
    assert row["regret"] == pytest.approx(0.2 / 6)
    assert row["gap_closed"] == pytest.approx(1 - (0.2 / 6) / (0.55 / 6))
    assert row["top1"] == pytest.approx(3 / 6) and row["top2"] >= row["top1"]
    assert row["datasets"] == 6 and row["groups"] == 4


def test_the_bootstrap_resamples_groups_paired_and_is_reproducible() -> None:
    sbs, mine, _ = _table()
    low, high, dropped = bootstrap_gap(sbs, mine, resamples=500, seed=1)
    assert (low, high, dropped) == bootstrap_gap(sbs, mine, resamples=500, seed=1)  # fixed seed
    assert low <= gap_closed(0.55 / 6, 0.2 / 6) <= high and low < high
    # By hand: every resample's gap from the group sums of the same draws.
    s, m = np.array([0.1, 0.2, 0.05, 0.2]), np.array([0.05, 0.0, 0.05, 0.1])
    draws = np.random.default_rng(1).integers(0, 4, size=(500, 4))
    gaps = [1 - m[d].sum() / s[d].sum() for d in draws]
    assert (low, high) == pytest.approx(tuple(np.percentile(gaps, [5, 95])))
    assert dropped == 0


def test_resamples_where_the_sbs_has_no_regret_are_dropped_and_mismatched_picks_refused() -> None:
    sbs = [Pick("a", 1.0, 1.0, 1.0), Pick("b", 1.0, 0.5, 0.5)]
    mine = [Pick("a", 1.0, 1.0, 1.0), Pick("b", 1.0, 1.0, 1.0)]
    low, high, dropped = bootstrap_gap(sbs, mine, resamples=200, seed=0)
    assert low == high == 1.0 and 0 < dropped < 200  # draws of group "a" alone leave no gap
    with pytest.raises(ValueError, match="same datasets"):
        bootstrap_gap(sbs, mine[:1])


def test_the_table_marks_what_ships_and_the_references() -> None:
    sbs, mine, oracle = _table()
    rows = {"mine": figures(mine, sbs, 0.005), "always the best on average": figures(sbs, sbs, 0.005),
            "oracle": figures(oracle, sbs, 0.005)}
    lines = table_lines(rows, "always the best on average")
    assert lines[0].startswith("| ranking | datasets | mean regret | gap closed (SBS 0%, oracle 100%) | 90% interval")
    assert "| always the best on average (SBS) |" in lines[3] and "(reference)" in lines[3]
    assert "(reference)" in lines[4]
    assert lines[2].endswith("| yes |" if ships(rows["mine"]) else "| no |")


def test_alternatives_turn_predicted_scores_into_picks() -> None:
    from benchmarks.recommender_alternatives import gap_picks

    Y = np.array([[1.0, 0.8, 0.9], [0.5, 0.7, 0.6]])
    picks = gap_picks(Y, np.array(["g1", "g2"]), np.array([[0.1, 0.3, 0.2], [0.0, 0.0, 1.0]]))
    assert picks == [Pick("g1", 1.0, 0.8, 0.9), Pick("g2", 0.7, 0.6, 0.6)]


def test_expected_scores_shrink_the_neighbours_towards_the_training_mean() -> None:
    from benchmarks.recommender_rankers import expected_choice, expected_scores

    prior = np.array([0.95, 0.90])  # framework A best on average (the SBS), B second
    near = np.array([[0.80, 1.0], [0.85, 1.0], [0.90, 1.0]])  # every neighbour favours B
    both = np.array([True, True])
    assert expected_scores(near, prior, 0.0) == pytest.approx([0.85, 1.0])  # the neighbours alone
    assert expected_scores(near, prior, 3.0) == pytest.approx([0.90, 0.95])  # (sum + m * mean) / (k + m)
    assert expected_choice(expected_scores(near, prior, 3.0), both) == 1  # B
    # A very large m, or m = inf, is the single best solver's choice whatever the neighbours say.
    assert expected_choice(expected_scores(near, prior, 1e9), both) == 0
    assert expected_scores(near, prior, math.inf) == pytest.approx(prior)
    # A framework without a score on a neighbour counts only where it has one; one not available never wins.
    gappy = np.array([[np.nan, 1.0], [0.7, np.nan]])
    assert expected_scores(gappy, prior, 1.0) == pytest.approx([(0.7 + 0.95) / 2, (1.0 + 0.90) / 2])
    assert expected_choice(np.array([1.0, 0.5]), np.array([False, True])) == 1


def test_the_rules_anchored_choice_leaves_the_rules_only_by_more_than_the_margin() -> None:
    from benchmarks.recommender_rankers import expected_choice

    est, both = np.array([0.90, 0.93]), np.array([True, True])
    assert expected_choice(est, both, anchor=0, margin=0.0) == 1
    assert expected_choice(est, both, anchor=0, margin=0.05) == 0
    assert expected_choice(est, both, anchor=0, margin=math.inf) == 0  # the rules alone


def test_nested_selection_follows_informative_neighbours_and_falls_back_to_the_mean() -> None:
    from benchmarks.recommender_rankers import EXPECTED_M, select_expected

    # 40 datasets on a line, one per group: A wins on the left half, B on the right; B wins on average.
    x = np.linspace(0, 1, 40)
    D = np.abs(x[:, None] - x[None, :])
    left = x < 0.45
    S = np.where(left[:, None], [1.0, 0.8], [0.8, 1.0])
    groups = np.array([f"g{i}" for i in range(40)])
    k, m, margin = select_expected(D, S, groups)
    assert math.isfinite(m) and k <= 10 and margin == math.inf
    # Neighbours that say nothing (the same scores everywhere): the simplest setting, the training mean.
    k, m, _ = select_expected(D, np.tile([1.0, 0.9], (40, 1)), groups)
    assert m == max(EXPECTED_M) == math.inf


def test_the_shipped_order_places_a_network_by_its_evidence_and_breaks_ties_by_cost() -> None:
    from benchmarks.recommender_rankers import shipped_order

    rules = {"xgboost": 0.62, "sklearn": 0.60, "catboost": 0.60, "torch": 0.30}
    available = ["catboost", "sklearn", "torch", "xgboost"]
    seconds = {"catboost": 2.0, "sklearn": 1.0, "torch": 5.0, "xgboost": 1.0}
    # torch's evidence beats every non-network's: right after the rules' first choice (first only
    # with network_first, as shipped until 185f4d1).
    evidence = {"xgboost": 0.95, "sklearn": 0.97, "catboost": 0.96, "torch": 0.99}
    assert shipped_order(rules, evidence, seconds, available) == ["xgboost", "torch", "sklearn", "catboost"]
    first = shipped_order(rules, evidence, seconds, available, network_first=True)
    assert first == ["torch", "xgboost", "sklearn", "catboost"]
    # Only XGBoost's evidence at least torch's: just after XGBoost; sklearn and CatBoost tie by the rules,
    # the cheaper first.
    evidence = {"xgboost": 0.99, "sklearn": 0.90, "catboost": 0.90, "torch": 0.95}
    assert shipped_order(rules, evidence, seconds, available) == ["xgboost", "torch", "sklearn", "catboost"]
    # Without evidence the rules alone.
    assert shipped_order(rules, {}, seconds, available) == ["xgboost", "sklearn", "catboost", "torch"]
