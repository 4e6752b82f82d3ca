"""The recommendation's evidence (issue 20 D4, issue 22 D4): networks placed by how they did on similar
datasets, never excluded by the row-count rule; figures relative to the best candidate, or none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender import Recommendation, RuleBasedRanker, detect_hardware, profile_dataset
from recommender.cost import ENQUEUED_NETWORKS, estimate_fit_seconds
from recommender.evidence import Evidence
from recommender.meta import feature_vector, meta_features
from search_spaces import get_adapter
from tests.conftest import make_frame

FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "catboost", "torch")


def _evidence(profile, torch_scores=(0.95, 1.0, 0.97, 0.99), frameworks=FRAMEWORKS) -> Evidence:
    """Four datasets shaped like ``profile`` (slightly perturbed); torch's normalised scores given."""
    base = feature_vector(meta_features(profile), profile.task)
    X = np.vstack([base + 0.01 * i for i in range(4)])
    scores = {f: np.array([0.9, 0.95, 1.0, 0.92]) for f in frameworks if f != "torch"}
    if "torch" in frameworks:
        scores["torch"] = np.array(torch_scores, dtype=float)
    return Evidence.from_table(X, [f"d{i}" for i in range(4)], scores, label="cv", budget=10.0)


def _rank(profile, evidence, budget, frameworks=None):
    ranker = RuleBasedRanker()
    ranker.evidence_source = evidence
    return ranker.rank(profile, detect_hardware(), time_budget=budget, frameworks=frameworks, device="cpu")


@pytest.fixture(scope="module")
def small():
    return profile_dataset(make_frame("binary", n=200), "y")


def test_a_network_that_fits_the_budget_is_a_candidate_placed_and_explained_by_evidence(small) -> None:
    per_trial = estimate_fit_seconds(get_adapter("torch"), small, detect_hardware(), "cpu").seconds
    rec = _rank(small, _evidence(small), budget=4 * per_trial)
    assert "torch" in rec.frameworks, rec.excluded
    torch = next(c for c in rec.candidates if c.framework == "torch")
    assert torch.reasons[0].startswith("on 4 similar datasets in 10 s searches PyTorch reached a median")
    assert not any("rarely beat" in r for r in torch.reasons)  # the row-count rule is replaced by evidence
    # torch's relative scores (0.95 / 0.9 ...) are ahead of the others on 3 of 4 datasets: it is placed
    # right after the rules' first choice (which the evidence never displaces)
    assert rec.frameworks[1] == "torch" and torch.n_similar == 4 and torch.expected_relative == pytest.approx(1.0)
    assert rec.frameworks[0] == _rank(small, None, budget=4 * per_trial).frameworks[0]
    assert "expected 1.00 of the best candidate (median, IQR" in rec.summary()
    # The search's prior: torch reached the best candidate on 3 of the 4 datasets, each other on 1.
    shares = {c.framework: c.top_share for c in rec.candidates}
    assert shares["torch"] == pytest.approx(0.75) and shares["xgboost"] == pytest.approx(0.25)


def test_a_network_too_slow_for_the_budget_is_excluded_with_that_reason(small) -> None:
    per_trial = estimate_fit_seconds(get_adapter("torch"), small, detect_hardware(), "cpu").seconds
    rec = _rank(small, _evidence(small), budget=per_trial)  # a trial would take the whole budget
    reasons = {e.framework: e.reason for e in rec.excluded}
    assert "torch" not in rec.frameworks and reasons["torch"].startswith("too slow for the budget")


def test_a_network_that_trails_on_evidence_is_left_out_saying_so_unless_the_budget_is_far_larger(small) -> None:
    per_trial = estimate_fit_seconds(get_adapter("torch"), small, detect_hardware(), "cpu").seconds
    trailing = _evidence(small, torch_scores=(0.3, 0.4, 0.5, 0.45))
    budget = max(4 * per_trial, 50.0)
    rec = _rank(small, trailing, budget=budget)
    reasons = {e.framework: e.reason for e in rec.excluded}
    assert "torch" not in rec.frameworks
    assert "on 4 similar datasets PyTorch reached a median" in reasons["torch"] and "IQR" in reasons["torch"]
    assert "torch" in _rank(small, trailing, budget=1000).frameworks  # 10 s evidence does not judge a 1000 s search


def test_a_framework_without_evidence_gets_no_number(small) -> None:
    rec = _rank(small, _evidence(small, frameworks=("sklearn", "xgboost", "torch")), budget=10_000,
                frameworks=["sklearn", "xgboost", "lightgbm"])
    lgb = next(c for c in rec.candidates if c.framework == "lightgbm")
    assert lgb.expected_relative is None and lgb.spread is None and lgb.n_similar is None
    line = next(line for line in rec.summary().splitlines() if ". LightGBM (" in line)
    assert "expected" not in line and "score" not in line
    frame = rec.to_frame()
    assert "score" not in frame and pd.isna(frame.set_index("framework").loc["lightgbm", "expected_of_best"])


def test_recommendations_saved_before_the_evidence_fields_still_load(small) -> None:
    rec = _rank(small, _evidence(small), budget=10_000)
    d = rec.to_dict()
    assert Recommendation.from_dict(d) == rec  # spread survives as a tuple
    for c in d["candidates"]:
        for key in ("expected_relative", "spread", "n_similar"):
            c.pop(key)
    old = Recommendation.from_dict(d)
    assert all(c.expected_relative is None and c.spread is None for c in old.candidates)
    ranked = [line for line in old.summary().splitlines() if line.lstrip()[:2] in ("1.", "2.", "3.")]
    assert ranked and not any("expected" in line for line in ranked)


def test_the_evidence_round_trips_and_the_torch_cost_follows_its_enqueued_defaults() -> None:
    prof = profile_dataset(make_frame("binary", n=200), "y")
    ev = _evidence(prof)
    assert Evidence.from_dict(ev.to_dict()).relative(meta_features(prof), prof.task, FRAMEWORKS) == ev.relative(
        meta_features(prof), prof.task, FRAMEWORKS)
    from search_spaces._spec import FeatureSpec

    enqueued = [c.family for c in get_adapter("torch").default_configs(FeatureSpec(task="binary", n_rows=200))]
    assert [s.name.lower() for s in ENQUEUED_NETWORKS["torch"]] == list(dict.fromkeys(enqueued))
    torch = estimate_fit_seconds(get_adapter("torch"), prof, detect_hardware(), "cpu")
    assert "RealMLP" in torch.explanation and "TabM" in torch.explanation
