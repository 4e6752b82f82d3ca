"""Ranking: candidates with scores, costs, devices and reasons; exclusions with reasons."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from automl.search._time_plan import SUBSAMPLE_MIN_ROWS, sampled_rows
from recommender import (
    GPUInfo,
    Ranker,
    Recommendation,
    RuleBasedRanker,
    detect_hardware,
    profile_dataset,
    recommend_frameworks,
)
from recommender.cost import CostEstimate
from search_spaces import get_adapter
from tests.conftest import make_frame


def _gpu_hardware():
    base = detect_hardware()
    fws = dict(base.frameworks)
    fws["xgboost"] = dataclasses.replace(fws["xgboost"], can_use_gpu=True, gpu_build=True, gpu_reason="CUDA build")
    return dataclasses.replace(base, gpus=(GPUInfo(0, "Fake GPU", 16000),), frameworks=fws)


def _big_profile(rows: int = 300_000):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(rows, 8)), columns=[f"f{i}" for i in range(8)])
    df["y"] = rng.integers(0, 2, rows)
    return profile_dataset(df, "y")


def test_candidates_have_scores_costs_devices_and_reasons() -> None:
    rec = recommend_frameworks(profile_dataset(make_frame("binary"), "y"), detect_hardware(), time_budget=60)
    assert isinstance(rec, Recommendation)
    boosters = {n for n in ("lightgbm", "catboost") if get_adapter(n).is_installed()}
    # The tree learners always; a network where the packaged evidence and the budget keep it.
    assert {"sklearn", "xgboost"} | boosters <= set(rec.frameworks)
    assert all(get_adapter(f).network for f in set(rec.frameworks) - {"sklearn", "xgboost"} - boosters)
    trees = [c.score for c in rec.candidates if not get_adapter(c.framework).network]
    assert trees == sorted(trees, reverse=True)
    for c in rec.candidates:
        assert 0 <= c.score <= 1 and c.seconds_per_fit > 0 and c.device == "cpu"
        assert c.seconds_per_trial == c.seconds_per_fit
        assert any("per trial" in r for r in c.reasons)
    cv = recommend_frameworks(profile_dataset(make_frame("binary"), "y"), detect_hardware(), fits_per_trial=4)
    assert cv.candidates[0].seconds_per_trial == pytest.approx(4 * cv.candidates[0].seconds_per_fit)
    assert "Recommendation" in rec.summary() and "<table" in rec._repr_html_()


def test_notebook_view_shows_the_explanation_ranking_exclusions_and_notes() -> None:
    from dataclasses import replace
    from html import escape

    rec = recommend_frameworks(profile_dataset(make_frame("binary"), "y"), detect_hardware(), time_budget=60)
    rec = replace(rec, notes=("a <note> & more",))
    html = rec._repr_html_()
    assert f"(ranker: {rec.ranker})" in html
    assert rec.explanation and all(escape(line) in html for line in rec.explanation)
    assert "<table" in html and all(c.framework in html for c in rec.candidates)
    assert "a &lt;note&gt; &amp; more" in html  # escaped, not markup


def test_explanation_says_a_tie_on_score_was_broken_by_cost() -> None:
    from dataclasses import replace

    from recommender.ranking import explain

    prof = profile_dataset(make_frame("binary"), "y")
    hw = detect_hardware()
    first, second = recommend_frameworks(prof, hw, frameworks=["sklearn", "xgboost"]).candidates[:2]
    first, second = replace(first, seconds_per_trial=1.0), replace(second, seconds_per_trial=4.0)
    # The rules' score is a sort key, not a figure: without evidence no number is quoted (issue 22).
    first, second = (replace(c, expected_relative=None, spread=None, n_similar=0) for c in (first, second))
    margin = explain([replace(first, score=0.70), replace(second, score=0.65)], prof, hw)[0]
    assert f"{first.display_name} first, then {second.display_name}" in margin and "0.7" not in margin
    quoted = explain([replace(first, score=0.70, expected_relative=0.99, spread=(0.95, 1.0), n_similar=15),
                      replace(second, score=0.65, expected_relative=0.93, spread=(0.9, 0.97), n_similar=15)], prof, hw)
    assert f"(expected 0.99 of the best candidate on similar datasets, {second.display_name} 0.93)" in quoted[0]
    assert "median score relative to the best candidate" in quoted[1]
    tie = explain([replace(first, score=0.6702), replace(second, score=0.6700)], prof, hw)[0]
    assert f"level with {second.display_name} and ~4.0x faster per trial" in tie
    assert "+0.000" not in tie


def test_epoch_costs_on_small_data_keep_their_significant_digits() -> None:
    import re

    rec = recommend_frameworks(profile_dataset(make_frame("binary", n=200), "y"), detect_hardware(),
                               frameworks=["torch", "sklearn"], device="cpu")
    torch = next(c for c in rec.candidates if c.framework == "torch")
    epoch = next(r for r in torch.reasons if r.startswith("an epoch here takes"))
    cpu, gpu = (float(s) for s in re.findall(r"~([0-9.e-]+) s", epoch))
    assert 0 < gpu < cpu, epoch  # a few milliseconds, not "~0.00 s"


def test_small_data_favours_sklearn_with_a_reason() -> None:
    rec = recommend_frameworks(profile_dataset(make_frame("binary", n=200), "y"), detect_hardware(), time_budget=60)
    assert rec.best.framework == "sklearn"
    assert any("200 rows" in r for r in rec.best.reasons)


def test_large_data_with_gpu_puts_xgboost_on_cuda() -> None:
    rec = recommend_frameworks(_big_profile(), _gpu_hardware(), time_budget=600)
    assert rec.best.framework == "xgboost"
    assert rec.device_for("xgboost") == "cuda"
    assert rec.device_for("sklearn") == "cpu"
    assert any("GPU" in r for r in rec.best.reasons)


def test_small_data_stays_on_cpu_even_with_gpu() -> None:
    rec = recommend_frameworks(profile_dataset(make_frame("binary"), "y"), _gpu_hardware(), time_budget=60)
    assert rec.device_for("xgboost") == "cpu"
    xgb = next(c for c in rec.candidates if c.framework == "xgboost")
    assert any("overhead" in r for r in xgb.reasons)


def test_device_cpu_forces_cpu() -> None:
    rec = recommend_frameworks(_big_profile(), _gpu_hardware(), time_budget=600, device="cpu")
    assert rec.device_for("xgboost") == "cpu"


def test_gpu_cost_is_lower() -> None:
    prof = _big_profile()
    cpu = recommend_frameworks(prof, _gpu_hardware(), time_budget=600, device="cpu")
    gpu = recommend_frameworks(prof, _gpu_hardware(), time_budget=600, device="cuda")
    cost = lambda r: next(c.seconds_per_fit for c in r.candidates if c.framework == "xgboost")  # noqa: E731
    assert cost(gpu) < cost(cpu)


def test_not_installed_is_excluded_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    cls = type(get_adapter("xgboost"))
    monkeypatch.setattr(cls, "is_installed", classmethod(lambda c: False))
    rec = recommend_frameworks(profile_dataset(make_frame("binary"), "y"), detect_hardware(), time_budget=60)
    assert "sklearn" in rec.frameworks and "xgboost" not in rec.frameworks
    reasons = {e.framework: e.reason for e in rec.excluded}
    assert "not installed" in reasons["xgboost"] and "pip install xgboost" in reasons["xgboost"]


@pytest.mark.parametrize("name", ["lightgbm", "catboost"])
def test_optional_boosters_not_installed_say_how_to_install(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == name else real(n, *a))
    assert not get_adapter(name).is_installed()
    rec = recommend_frameworks(profile_dataset(make_frame("binary"), "y"), detect_hardware(), time_budget=60)
    reasons = {e.framework: e.reason for e in rec.excluded}
    assert name not in rec.frameworks
    assert "not installed" in reasons[name] and f"automl-recommender[{name}]" in reasons[name]


def _categorical_profile(rows: int = 2_000):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"c{i}": rng.choice([f"v{j}" for j in range(30)], rows) for i in range(6)})
    df["x"] = rng.normal(size=rows)
    df["y"] = rng.integers(0, 2, rows)
    return profile_dataset(df, "y")


def test_booster_rules_fire_with_reasons() -> None:
    ranker, hw = RuleBasedRanker(), detect_hardware()
    cat_score, cat_reasons = ranker.score(get_adapter("catboost"), _categorical_profile(), hw)
    lgb_score, _ = ranker.score(get_adapter("lightgbm"), _categorical_profile(), hw)
    assert cat_score > lgb_score and any("ordered target statistics" in r for r in cat_reasons)
    big = _big_profile()
    lgb_big, lgb_reasons = ranker.score(get_adapter("lightgbm"), big, hw)
    cat_big, cat_big_reasons = ranker.score(get_adapter("catboost"), big, hw)
    assert lgb_big > cat_big and any("300,000 rows" in r for r in lgb_reasons)
    assert any("slower per trial" in r for r in cat_big_reasons)


def test_unsupported_task_is_excluded(monkeypatch: pytest.MonkeyPatch) -> None:
    cls = type(get_adapter("xgboost"))
    monkeypatch.setattr(cls, "tasks", frozenset({"binary"}))
    rec = recommend_frameworks(profile_dataset(make_frame("regression"), "y"), detect_hardware(), time_budget=60)
    assert "xgboost" not in rec.frameworks
    assert any("does not support regression" in e.reason for e in rec.excluded)


def test_too_slow_for_budget_is_excluded_but_one_stays() -> None:
    prof = _big_profile(rows=2_000_000)
    rec = recommend_frameworks(prof, detect_hardware(), time_budget=1)
    assert len(rec.candidates) == 1
    assert any("too slow for the budget" in e.reason for e in rec.excluded)
    assert rec.notes


class _PerRow(RuleBasedRanker):
    """Costs linear in rows: 0.1 ms a row, and 10 ms a row for XGBoost."""

    def cost(self, adapter, profile, hardware, device):
        per_row = 1e-2 if adapter.name == "xgboost" else 1e-4
        return CostEstimate(profile.n_rows * per_row, device, "per row")


def test_too_slow_judges_the_trial_on_the_rows_the_search_samples_down_to() -> None:
    prof = dataclasses.replace(_big_profile(rows=20_000), n_rows=2_000_000)  # 200 s a fit on all rows
    kwargs = dict(time_budget=60, frameworks=None, ranker=_PerRow())
    on_all_rows = recommend_frameworks(prof, detect_hardware(), **kwargs)
    assert "sklearn" not in on_all_rows.frameworks
    sampled = recommend_frameworks(prof, detect_hardware(), sampled_rows=10_000, **kwargs)
    sk = next(c for c in sampled.candidates if c.framework == "sklearn")
    assert sk.seconds_per_trial == pytest.approx(200)  # the cost stays that of all rows: it sizes the sample
    assert any("a sample of at least 10,000 rows (~1 s a trial there)" in r for r in sk.reasons)
    reasons = {e.framework: e.reason for e in sampled.excluded}
    assert reasons["xgboost"].startswith("too slow for the budget")  # 100 s a trial even on the sample


def test_the_search_samples_trials_down_only_on_holdout_data_above_the_floor() -> None:
    assert sampled_rows(10_000) is None and sampled_rows(12_000) is None  # CV / a 9,600-row training split
    assert sampled_rows(1_000_000) == SUBSAMPLE_MIN_ROWS


def test_rankers_share_one_interface() -> None:
    class Constant(Ranker):
        name = "constant"

        def score(self, adapter, profile, hardware):
            return (0.9 if adapter.name == "sklearn" else 0.1), ["fixed"]

    rec = recommend_frameworks(profile_dataset(make_frame("binary"), "y"), detect_hardware(), ranker=Constant())
    assert rec.ranker == "constant" and rec.best.framework == "sklearn"
    assert isinstance(RuleBasedRanker(), Ranker)
