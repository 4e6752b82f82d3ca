"""The rankers the recommender evaluation compares beside the learned one and the baselines (issue 22).

- :func:`shipped_order`: the order the packaged recommender gives (the rules, networks placed by evidence);
- the expected-score ranker: the framework with the highest normalised score expected from the most
  similar training datasets, shrunk toward each framework's training mean (:func:`expected_scores`);
- the rules-anchored ranker: the rules' first choice unless the expected score beats it by a margin.

Their settings are chosen by :func:`select_expected` inside each split's training groups;
:func:`benchmarks.recommender_model.evaluate_ranking` runs them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from recommender.evidence import SIMILARITY
from recommender.explanation import is_network  # the packaged order's own test, not a copy
from recommender.meta import FEATURES


def standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 where a column is constant)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def order_by(scores: Mapping[str, float], available: list[str]) -> list[str]:
    """``available`` best first by ``scores`` (XGBoost first among equals)."""
    return sorted(available, key=lambda f: (scores.get(f, -math.inf), f == "xgboost"), reverse=True)


def shipped_order(rule_scores: Mapping[str, float], expected: Mapping[str, float], seconds: Mapping[str, float],
                  available: list[str], network_first: bool = False) -> list[str]:
    """``available`` in the order the shipped recommender puts them (:meth:`recommender.ranking.Ranker.rank`
    with :func:`recommender.ranking._with_evidence`): by the rules' score, except that a network with
    evidence (``expected``: its median score relative to the best candidate on the similar datasets) is
    placed just after the last (by the rules) non-network whose evidence is at least its own, but never
    above the rules' first choice (``network_first``: first when none is, as shipped until 185f4d1);
    ties broken by the predicted ``seconds`` of a fit (cheaper first). The rules' scores here are
    the runs' (rounded to 4 decimals); the live ones are unrounded sums, where float rounding can break a
    tie before the cost does (0.62 + 0.05 > 0.60 + 0.07: XGBoost over CatBoost on titanic, the one pick
    of the meta-dataset's holdout label this changes)."""
    anchors = [(rule_scores[f], expected[f]) for f in available
               if f in expected and f in rule_scores and not is_network(f)]
    first = min(available, key=lambda f: (-rule_scores.get(f, -math.inf), seconds.get(f, math.inf)))
    score = {}
    for f in available:
        s = rule_scores.get(f, -math.inf)
        if f in expected and anchors and is_network(f):
            above = [a for a, e in anchors if e >= expected[f]]
            s = min(above) - 0.001 if above else max(a for a, _ in anchors) + 0.001
            if not network_first and f != first:
                s = min(s, rule_scores.get(first, -math.inf) - 0.001)
        score[f] = s
    return sorted(available, key=lambda f: (-score[f], seconds.get(f, math.inf)))


#: The expected-score rankers' settings, chosen by grouped leave-one-dataset-out inside each training
#: split: how many similar datasets (nearest first, on the evidence's similarity features), and the
#: weight ``m`` of each framework's training mean, in datasets (``inf``: the mean alone, i.e. the SBS).
EXPECTED_K = (5, 10, 20, 40)
EXPECTED_M = (0.0, 5.0, 20.0, math.inf)
#: The rules-anchored ranker leaves the rules' first choice only for a framework whose expected score
#: beats the rules' choice's by more than this margin (``inf``: the rules alone).
ANCHOR_MARGINS = (0.0, 0.01, 0.03, math.inf)
SHIPPED_RANKING = "as shipped: the rules' first choice, then networks placed by evidence (train groups)"
NETWORK_FIRST_RANKING = "networks placed by evidence, first when it says so (shipped until 185f4d1)"
EXPECTED_RANKING = "expected score: k similar datasets shrunk to the mean (nested)"
ANCHORED_RANKING = "rules unless the expected score beats them by a margin (nested)"


def expected_scores(neighbours: np.ndarray, prior: np.ndarray, m: float) -> np.ndarray:
    """Each framework's expected normalised score: ``(sum of its scores on the neighbours + m * prior) /
    (neighbours where it has a score + m)``, i.e. the neighbours' mean shrunk towards ``prior`` (its mean
    on the training datasets) by ``m`` pseudo-datasets. ``neighbours``: datasets x frameworks, NaN where a
    framework has no score; ``m = inf``: the prior alone (the single best solver's ranking)."""
    prior = np.asarray(prior, dtype=np.float64)
    if math.isinf(m):
        return prior.copy()
    seen = ~np.isnan(neighbours)
    total = np.where(seen, neighbours, 0.0).sum(axis=0) + (m * prior if m > 0 else 0.0)
    count = seen.sum(axis=0) + m
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1.0), prior)


def expected_choice(est: np.ndarray, available: np.ndarray, anchor: int | None = None, margin: float = 0.0) -> int:
    """The available framework (column index) with the highest expected score; with an ``anchor`` (the
    rules' first choice), that one unless the best beats it by more than ``margin``. NaN never wins;
    ties go to the lower index."""
    values = np.where(available & ~np.isnan(est), est, -np.inf)
    best = int(np.argmax(values))
    if anchor is None or not available[anchor]:
        return best
    return best if values[best] - values[anchor] > margin else anchor


def expected_order(est: np.ndarray, present: list[str], available: list[str], anchor: int | None = None,
                    margin: float = math.inf) -> list[str]:
    """``available`` best first: :func:`expected_choice`, then the others by their expected score."""
    mask = np.array([f in available for f in present])
    first = present[expected_choice(est, mask, anchor, margin)]
    rest = order_by({f: (-math.inf if np.isnan(v) else float(v)) for f, v in zip(present, est, strict=True)},
                  [f for f in available if f != first])
    return [first, *rest]


def similarity_distances(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Euclidean distances from every row of ``X`` (raw :data:`FEATURES` vectors) to every row, on the
    evidence's similarity features (:data:`recommender.evidence.SIMILARITY`) standardised on the rows
    ``train`` (a boolean mask) only."""
    cols = [FEATURES.index(f) for f in SIMILARITY]
    Z = X[:, cols]
    mean, scale = standardise(Z[train])
    Z = (Z - mean) / scale
    return np.sqrt(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(axis=2))


def select_expected(D: np.ndarray, S: np.ndarray, groups: np.ndarray, anchors: np.ndarray | None = None
                    ) -> tuple[int, float, float]:
    """``(k, m, margin)`` with the lowest mean regret in grouped leave-one-dataset-out over these
    (training) datasets alone: ``D`` their distances, ``S`` their normalised scores (datasets x
    frameworks, NaN: not run), ``groups`` their groups; with ``anchors`` (each dataset's rules' first
    choice, a column index) for the rules-anchored ranker, else the margin is unused (returned as inf).
    Ties go to the simpler setting: the larger ``m`` and margin, then the larger ``k``."""
    margins = ANCHOR_MARGINS if anchors is not None else (math.inf,)
    settings = [(k, m, g) for k in EXPECTED_K for m in EXPECTED_M for g in margins]
    regret = np.zeros(len(settings))
    n = 0
    for i in range(len(S)):
        available = ~np.isnan(S[i])
        if not available.any():
            continue
        n += 1
        inner = groups != groups[i]
        prior = column_means(S[inner])
        order = np.flatnonzero(inner)[np.argsort(D[i, inner], kind="stable")]
        best = float(np.nanmax(S[i]))
        for j, (k, m, margin) in enumerate(settings):
            est = expected_scores(S[order[:k]], prior, m)
            pick = expected_choice(est, available, None if anchors is None else int(anchors[i]), margin)
            regret[j] += best - S[i, pick]
    if n == 0:
        return EXPECTED_K[-1], math.inf, math.inf
    j = min(range(len(settings)),
            key=lambda j: (round(regret[j] / n, 9), -settings[j][1], -settings[j][2], -settings[j][0]))
    return settings[j]


def column_means(S: np.ndarray) -> np.ndarray:
    seen = ~np.isnan(S)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen.any(axis=0), np.where(seen, S, 0.0).sum(axis=0) / np.maximum(seen.sum(axis=0), 1),
                        np.nan)
