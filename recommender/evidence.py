"""Evidence for a recommendation: how each framework did on the meta-dataset's most similar datasets.

``benchmarks/recommender_model.py`` stores in ``recommender/learned_model.json`` (key ``evidence``)
every meta-dataset dataset's standardised meta-features and each framework's normalised score there
(cross-validated when the table has it, else the holdout; ``(s - constant) / (best - constant)``,
1 for the best framework of that dataset). For a new dataset, :meth:`Evidence.relative` takes the
``k`` most similar datasets (Euclidean distance on the standardised size, shape, column-type and
task features) and, on each, divides a framework's score by the best score among the candidate
frameworks there: its score relative to the best candidate. The expectation is the median over the
similar datasets where it ran, the spread their interquartile range (a mean would be dragged below
the whole range by one failed run). A framework absent from the meta-dataset gets no figure.

The meta-dataset's searches had a small budget (10 s, one core): the figures say what each
framework reached in such a search, which a larger budget can change (networks most).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from recommender.meta import FEATURES, feature_vector

MODEL_FILE = Path(__file__).with_name("learned_model.json")
#: How many similar datasets the evidence comes from.
K_SIMILAR = 15
#: A framework "reached the best" on a similar dataset when its relative score is at least 1 minus this.
TOP_TOLERANCE = 0.01
#: The meta-features that measure similarity: size, shape, column types and task.
SIMILARITY = ("log_rows", "log_features", "categorical_share", "low_cardinality_share", "log_classes", "regression")


@dataclass(frozen=True)
class Estimate:
    """A framework's score relative to the best candidate on ``n_similar`` similar datasets."""

    expected: float  # median
    low: float  # 25th percentile
    high: float  # 75th percentile
    n_similar: int
    budget: float | None = None
    #: Share of the similar datasets where it reached the best candidate's score (within TOP_TOLERANCE).
    top: float | None = None

    def describe(self, framework: str) -> str:
        at = f" in {self.budget:g} s searches" if self.budget else ""
        return (f"on {self.n_similar} similar datasets{at} {framework} reached a median {self.expected:.2f} of the "
                f"best candidate's score (IQR {self.low:.2f}-{self.high:.2f})")


@dataclass(frozen=True)
class Evidence:
    """Standardised meta-features of the meta-dataset's datasets and each framework's normalised score."""

    mean: np.ndarray
    scale: np.ndarray
    X: np.ndarray  # standardised, one row per dataset, all FEATURES
    datasets: tuple[str, ...]
    scores: dict[str, np.ndarray]  # per framework, normalised score per dataset (NaN: not run or failed)
    label: str = "cv"
    budget: float | None = None
    k: int = K_SIMILAR

    @property
    def frameworks(self) -> list[str]:
        return sorted(self.scores)

    def similar(self, meta: Mapping[str, Any], task: str) -> np.ndarray:
        """Indices of the ``k`` datasets nearest to ``meta`` (nearest first)."""
        z = (feature_vector(dict(meta), task) - self.mean) / self.scale
        cols = [FEATURES.index(f) for f in SIMILARITY]
        dist = np.sqrt(((self.X[:, cols] - z[cols]) ** 2).sum(axis=1))
        return np.argsort(dist, kind="stable")[: self.k]

    def relative(self, meta: Mapping[str, Any], task: str, frameworks: Iterable[str]) -> dict[str, Estimate]:
        """Per framework of ``frameworks`` with evidence: its score relative to the best of
        ``frameworks`` on each similar dataset, summarised."""
        known = [f for f in frameworks if f in self.scores]
        if not known:
            return {}
        near = self.similar(meta, task)
        table = np.vstack([self.scores[f][near] for f in known])  # frameworks x datasets
        with np.errstate(invalid="ignore", divide="ignore"):
            best = np.nanmax(np.where(np.isnan(table), -np.inf, table), axis=0)
            rel = np.where(best > 0, table / np.where(best > 0, best, 1.0), np.nan)
        out = {}
        for f, row in zip(known, rel, strict=True):
            seen = row[~np.isnan(row)]
            if len(seen):
                low, high = np.percentile(seen, [25, 75])
                out[f] = Estimate(round(float(np.median(seen)), 4), round(float(low), 4), round(float(high), 4),
                                  int(len(seen)), self.budget, round(float(np.mean(seen >= 1 - TOP_TOLERANCE)), 4))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "budget": self.budget, "k": self.k, "features": list(FEATURES),
            "mean": self.mean.tolist(), "scale": self.scale.tolist(), "X": np.round(self.X, 5).tolist(),
            "datasets": list(self.datasets),
            "scores": {f: [None if np.isnan(v) else round(float(v), 5) for v in s] for f, s in self.scores.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        if list(d.get("features", FEATURES)) != list(FEATURES):
            raise ValueError("evidence computed on other meta-features than this library computes")
        scores = {f: np.array([np.nan if v is None else v for v in s], dtype=np.float64)
                  for f, s in d["scores"].items()}
        arr = np.asarray
        return cls(arr(d["mean"], dtype=float), arr(d["scale"], dtype=float), arr(d["X"], dtype=float),
                   tuple(d["datasets"]), scores, str(d.get("label", "cv")),
                   None if d.get("budget") is None else float(d["budget"]), int(d.get("k", K_SIMILAR)))

    @classmethod
    def from_table(cls, X: np.ndarray, datasets: Iterable[str], scores: Mapping[str, np.ndarray], *,
                   label: str, budget: float | None) -> Evidence:
        """From raw meta-feature vectors (one row per dataset) and normalised scores per framework."""
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        return cls(mean, scale, (X - mean) / scale, tuple(datasets),
                   {f: np.asarray(s, dtype=np.float64) for f, s in scores.items()}, label, budget)


@lru_cache(maxsize=4)
def load_evidence(path: Path = MODEL_FILE) -> Evidence | None:
    """The packaged evidence, or None when the model file or its ``evidence`` is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text()).get("evidence")
        return None if d is None else Evidence.from_dict(d)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


#: A candidate with evidence is left out of a search (no frameworks named) when, on three quarters of
#: its similar datasets, it reached less than this share of the best candidate's score ...
KEEP_ABOVE = 0.9
#: ... unless the budget is more than this many times the meta-dataset's (networks gain most from time).
BUDGET_FACTOR = 10.0


def trails(name: str, expected: float, spread: tuple[float, float], n_similar: int, time_budget: float | None,
           evidence_budget: float | None) -> str | None:
    """Why a candidate is left out on evidence, or None when it stays."""
    if spread[1] >= KEEP_ABOVE:
        return None
    if evidence_budget and (time_budget is None or time_budget > BUDGET_FACTOR * evidence_budget):
        return None  # the evidence comes from much shorter searches than this one
    return (f"on {n_similar} similar datasets {name} reached a median {expected:.2f} of the best candidate's score "
            f"and under {KEEP_ABOVE:.2f} on three quarters of them (IQR {spread[0]:.2f}-{spread[1]:.2f})")
