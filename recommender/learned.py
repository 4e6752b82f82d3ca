"""The learned recommender: expected scores and costs fitted on the meta-dataset.

``benchmarks/recommender_model.py`` trains it from ``benchmarks/results/metadata_runs.jsonl``
(each framework's search at a small budget on PMLB datasets) and writes
``recommender/learned_model.json``: plain numbers (no code, no pickle), versioned. It holds

- ``score`` (may be absent, see below): a k-nearest-neighbour model over standardised
  meta-features: a framework's expected normalised score is the distance-weighted mean of its
  scores on the k most similar datasets, shrunk towards its mean over all datasets (k, the
  meta-features used and the shrinkage are chosen by grouped leave-one-dataset-out, see
  :class:`Neighbours`);
- ``seconds_per_fold``: per framework, a ridge regression of log10 seconds for one fit-and-score
  on one core, from the meta-features with the fit's training rows;
- ``trial_seconds``: per framework, the same with the trial's model family and hyper-parameters
  (what one trial will cost);
- ``memory_mb``: per framework, log10 of the peak memory a search adds.

The trainer ships each part only where the grouped leave-one-dataset-out evaluation shows it better
than what it replaces: the score model must beat "always XGBoost", "always the best on average"
and the rule-based ranking on both top-1 hit rate and mean regret, the cost models the rule-based
costs on both cost figures. A file without a score model ranks by the rules and costs by the
learned models (:class:`LearnedRanker`).

Everything was measured on one machine with one thread per model; other hardware is accounted for
by the rule-based cost model's ratios (threads, GPU), see :class:`LearnedRanker`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from recommender.cost import CostEstimate
from recommender.evidence import Evidence
from recommender.hardware import HardwareProfile
from recommender.meta import FEATURES, feature_vector, meta_features
from recommender.profile import DatasetProfile
from recommender.ranking import Ranker, RuleBasedRanker
from search_spaces import FrameworkAdapter

MODEL_FILE = Path(__file__).with_name("learned_model.json")
GROWTH_FILE = Path(__file__).with_name("row_growth.json")
FORMAT = "automl-recommender-model"
GROWTH_FORMAT = "automl-row-growth"
FORMAT_VERSION = 2  # 2: the score model may be absent (null)


class ModelFileError(ValueError):
    """The learned model file is missing fields, malformed, or from a newer format."""


def _array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class Linear:
    """A ridge regression on standardised inputs: ``intercept + coef . (x - mean) / scale``."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    #: Standard deviation of the training residuals (log10 units for the cost models).
    residual_std: float = 0.0
    #: Predictions are clipped to the training targets' range widened by one unit (no wild extrapolation).
    low: float = -math.inf
    high: float = math.inf

    def predict(self, x: np.ndarray) -> float:
        value = float(self.intercept + self.coef @ ((x - self.mean) / self.scale))
        return min(max(value, self.low), self.high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "coef": self.coef.tolist(), "intercept": self.intercept, "residual_std": self.residual_std,
            "low": self.low, "high": self.high,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Linear:
        return cls(tuple(d["features"]), _array(d["mean"]), _array(d["scale"]), _array(d["coef"]),
                   float(d["intercept"]), float(d.get("residual_std", 0.0)),
                   float(d.get("low", -math.inf)), float(d.get("high", math.inf)))


@dataclass(frozen=True)
class Neighbours:
    """Expected normalised score per framework from the k most similar datasets of the meta-dataset.

    Similarity is measured on ``columns`` of the standardised meta-features (None: all of them). The
    neighbours' distance-weighted mean is shrunk towards the framework's mean over all datasets:
    ``prior + shrink * (neighbours - prior)`` (``shrink=1``: the neighbours alone). ``k``, the
    columns and ``shrink`` are chosen by grouped leave-one-dataset-out on the training datasets.
    """

    mean: np.ndarray
    scale: np.ndarray
    X: np.ndarray  # standardised meta-features, one row per dataset
    datasets: tuple[str, ...]
    scores: dict[str, np.ndarray]  # per framework, normalised score per dataset (NaN: not run)
    k: int
    columns: tuple[int, ...] | None = None
    shrink: float = 1.0

    def prior(self, framework: str) -> float:
        scores = self.scores[framework]
        return float(np.nanmean(scores)) if (~np.isnan(scores)).any() else math.nan

    def predict(self, x: np.ndarray) -> dict[str, tuple[float, list[str]]]:
        """Per framework: the expected normalised score and the neighbours it came from."""
        z = (x - self.mean) / self.scale
        cols = list(self.columns) if self.columns is not None else slice(None)
        dist = np.sqrt(((self.X[:, cols] - z[cols]) ** 2).sum(axis=1))
        out = {}
        for framework, scores in self.scores.items():
            seen = np.flatnonzero(~np.isnan(scores))
            if len(seen) == 0:
                continue
            near = seen[np.argsort(dist[seen], kind="stable")[: self.k]]
            weights = 1.0 / (dist[near] + 0.25)
            local = float(weights @ scores[near] / weights.sum())
            prior = self.prior(framework)
            out[framework] = (prior + self.shrink * (local - prior), [self.datasets[i] for i in near])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(), "scale": self.scale.tolist(), "X": np.round(self.X, 5).tolist(),
            "datasets": list(self.datasets), "k": self.k,
            "columns": None if self.columns is None else [FEATURES[i] for i in self.columns],
            "shrink": self.shrink,
            "scores": {f: [None if np.isnan(v) else round(float(v), 5) for v in s] for f, s in self.scores.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Neighbours:
        scores = {
            f: np.array([np.nan if v is None else v for v in s], dtype=np.float64) for f, s in d["scores"].items()
        }
        names = d.get("columns")
        columns = None if names is None else tuple(FEATURES.index(n) for n in names)
        return cls(_array(d["mean"]), _array(d["scale"]), _array(d["X"]), tuple(d["datasets"]), scores, int(d["k"]),
                   columns, float(d.get("shrink", 1.0)))


def config_features(family: str, config: Mapping[str, Any], families: list[str], params: list[str]) -> np.ndarray:
    """A trial's model: one-hot family, then log1p of each numeric hyper-parameter (0 when absent)."""
    onehot = [float(family == f) for f in families]
    values = []
    for p in params:
        v = config.get(p)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        values.append(math.copysign(math.log1p(abs(v)), v) if ok else 0.0)
    return np.array(onehot + values, dtype=np.float64)


@dataclass(frozen=True)
class TrialCost:
    """log10 seconds of one fold of a trial: dataset features (with the fold's rows) and the model."""

    families: list[str]
    params: list[str]
    model: Linear

    def predict(self, meta: Mapping[str, Any], task: str, rows: float, family: str, config: Mapping[str, Any]) -> float:
        x = np.concatenate([feature_vector(dict(meta), task, rows), config_features(family, config, self.families,
                                                                                     self.params)])
        return self.model.predict(x)

    def to_dict(self) -> dict[str, Any]:
        return {"families": self.families, "params": self.params, "model": self.model.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrialCost:
        return cls(list(d["families"]), list(d["params"]), Linear.from_dict(d["model"]))


@dataclass(frozen=True)
class RowGrowth:
    """How one fit's seconds grow beyond the rows the learned cost models were trained on.

    The meta-dataset's fits train on at most ``rows`` rows, where a fit's fixed costs dominate: the
    learned slope there is about seconds ~ rows^0.3, far below what a million rows cost. Beyond
    ``rows`` a prediction is the learned one at ``rows`` times ``(n / rows) ** exponent``, the
    framework's exponent measured by ``benchmarks.cost_growth`` (one fit of its first default
    configuration on row samples of large data, one thread) and written to ``row_growth.json``.
    A framework without a measured exponent keeps the learned extrapolation."""

    rows: float
    exponent: dict[str, float]
    source: dict[str, Any]

    def anchor(self, framework: str, rows: float) -> tuple[float, float]:
        """The rows to ask the learned model at and the factor for its answer."""
        b = self.exponent.get(framework)
        if b is None or rows <= self.rows:
            return rows, 1.0
        return self.rows, (rows / self.rows) ** b

    def to_dict(self) -> dict[str, Any]:
        return {"format": GROWTH_FORMAT, "rows": self.rows, "exponent": self.exponent, "source": self.source}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RowGrowth:
        if d.get("format") != GROWTH_FORMAT:
            raise ModelFileError("not a row-growth file")
        try:
            rows = float(d["rows"])
            exponent = {str(f): float(b) for f, b in d["exponent"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ModelFileError(f"malformed row-growth file: {e}") from e
        if not rows > 0 or not all(0.0 < b <= 3.0 for b in exponent.values()):
            raise ModelFileError("row-growth file: rows must be positive and each exponent in (0, 3]")
        return cls(rows, exponent, dict(d.get("source", {})))


@dataclass(frozen=True)
class LearnedModel:
    score: Neighbours | None  # None: the ranking stays rule-based, only the costs are learned
    seconds_per_fold: dict[str, Linear]
    trial_seconds: dict[str, TrialCost]
    memory_mb: dict[str, Linear]
    trained_on: dict[str, Any]
    #: The meta-dataset's measurements that recommendations quote (:mod:`recommender.evidence`).
    evidence: Evidence | None = None
    #: How costs grow beyond the meta-dataset's rows (``row_growth.json``; None: the learned slope).
    growth: RowGrowth | None = None

    @property
    def frameworks(self) -> list[str]:
        return sorted(self.score.scores if self.score is not None else self.seconds_per_fold)

    def expected_scores(self, meta: Mapping[str, Any], task: str) -> dict[str, tuple[float, list[str]]]:
        """Per framework: expected normalised score and the datasets it came from ({} without a score model)."""
        return {} if self.score is None else self.score.predict(feature_vector(dict(meta), task))

    def anchor(self, framework: str, rows: float) -> tuple[float, float]:
        """The rows to ask a cost model at and the factor for its answer (:class:`RowGrowth`)."""
        return (rows, 1.0) if self.growth is None else self.growth.anchor(framework, rows)

    def fold_seconds(self, framework: str, meta: Mapping[str, Any], task: str, rows: float) -> float | None:
        """Seconds for one fit (and scoring) of a typical configuration on ``rows`` rows, one core."""
        model = self.seconds_per_fold.get(framework)
        if model is None:
            return None
        at, factor = self.anchor(framework, rows)
        return factor * 10 ** model.predict(feature_vector(dict(meta), task, at))

    def trial_fold_seconds(self, framework: str, meta: Mapping[str, Any], task: str, rows: float, family: str,
                           config: Mapping[str, Any]) -> float | None:
        model = self.trial_seconds.get(framework)
        if model is None:
            return None
        at, factor = self.anchor(framework, rows)
        return factor * 10 ** model.predict(meta, task, at, family, config)

    def memory(self, framework: str, meta: Mapping[str, Any], task: str) -> float | None:
        model = self.memory_mb.get(framework)
        return None if model is None else 10 ** model.predict(feature_vector(dict(meta), task))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "features": list(FEATURES),
            "trained_on": self.trained_on, "score": None if self.score is None else self.score.to_dict(),
            "seconds_per_fold": {f: m.to_dict() for f, m in self.seconds_per_fold.items()},
            "trial_seconds": {f: m.to_dict() for f, m in self.trial_seconds.items()},
            "memory_mb": {f: m.to_dict() for f, m in self.memory_mb.items()},
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LearnedModel:
        if d.get("format") != FORMAT:
            raise ModelFileError("not a learned recommender model file")
        if not isinstance(d.get("format_version"), int) or d["format_version"] > FORMAT_VERSION:
            raise ModelFileError(f"model format {d.get('format_version')!r} is newer than this library reads")
        if list(d.get("features", [])) != list(FEATURES):
            raise ModelFileError("the model was trained on other meta-features than this library computes")
        try:
            return cls(
                None if d["score"] is None else Neighbours.from_dict(d["score"]),
                {f: Linear.from_dict(m) for f, m in d["seconds_per_fold"].items()},
                {f: TrialCost.from_dict(m) for f, m in d["trial_seconds"].items()},
                {f: Linear.from_dict(m) for f, m in d["memory_mb"].items()},
                dict(d.get("trained_on", {})),
                None if d.get("evidence") is None else Evidence.from_dict(d["evidence"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"malformed model file: {e}") from e

    def save(self, path: Path = MODEL_FILE) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")
        tmp.replace(path)


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> LearnedModel | None:
    """The packaged model (JSON: loading runs no code), or None when there is none or it is unreadable;
    with the row growth of the ``row_growth.json`` beside it when there is a readable one."""
    if not path.is_file():
        return None
    try:
        model = LearnedModel.from_dict(json.loads(path.read_text()))
    except (ModelFileError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    growth = path.with_name(GROWTH_FILE.name)
    if not growth.is_file():
        return model
    try:
        return replace(model, growth=RowGrowth.from_dict(json.loads(growth.read_text())))
    except (ModelFileError, json.JSONDecodeError, UnicodeDecodeError):
        return model  # the learned slope, as without the file


# -- ranking -----------------------------------------------------------------------------------------
class LearnedRanker(Ranker):
    """Ranks by the learned expected scores and costs. Its rule-based ranker (``rules``) adds readable
    reasons, covers frameworks the model has not seen and scales costs to other hardware (GPU). With a
    model that ships no score model it ranks by the rules and costs by the learned models."""

    name = "learned"

    def __init__(self, model: LearnedModel, rules: RuleBasedRanker | None = None) -> None:
        self.model = model
        self.rules = RuleBasedRanker() if rules is None else rules
        if model.score is None:  # the file ships learned costs only: the ranking stays the rules'
            self.name = "rule-based, learned costs"
        self._last: tuple[int, dict[str, tuple[float, list[str]]]] | None = None

    def evidence(self) -> Evidence | None:
        """The model file's own evidence (a model without one quotes none)."""
        return self.model.evidence

    def _expected(self, profile: DatasetProfile) -> dict[str, tuple[float, list[str]]]:
        if self._last is None or self._last[0] != id(profile):
            self._last = (id(profile), self.model.expected_scores(meta_features(profile), profile.task))
        return self._last[1]

    def score(
        self, adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile
    ) -> tuple[float, list[str]]:
        rule_score, reasons = self.rules.score(adapter, profile, hardware)
        if self.model.score is None:
            return rule_score, reasons
        expected = self._expected(profile)
        if adapter.name not in expected:
            floor = min((s for s, _ in expected.values()), default=rule_score)
            return max(0.0, floor - 0.02), [
                f"no learned estimate for {adapter.display_name}: ranked after the frameworks with one", *reasons
            ]
        value, near = expected[adapter.name]
        lead = (
            f"expected {value:.3f} of the best framework's score: learned from its results on the {len(near)} "
            f"most similar of {len(self.model.score.datasets)} datasets ({', '.join(near[:3])}, ...)"
        )
        return value, [lead, *reasons]

    def cost(
        self, adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, device: str
    ) -> CostEstimate:
        rule = self.rules.cost(adapter, profile, hardware, device)
        meta = meta_features(profile)
        learned = self.model.fold_seconds(adapter.name, meta, profile.task, profile.n_rows)
        if learned is None:
            return rule
        ratio = 1.0
        why = f"learned: ~{learned:.2g} s per fit on {profile.n_rows:,} rows on one core"
        growth = self.model.growth
        if growth is not None and self.model.anchor(adapter.name, profile.n_rows)[1] != 1.0:
            why += (f" (beyond the meta-dataset's {growth.rows:,.0f} rows, grown as rows^"
                    f"{growth.exponent[adapter.name]:.2f}, measured)")
        if device != "cpu":  # measured on CPUs only: the rules say how much faster the GPU is
            ratio = rule.seconds / self.rules.cost(adapter, profile, hardware, "cpu").seconds
            why += f", x{ratio:.2g} on the GPU (rule-based)"
        memory = self.model.memory(adapter.name, meta, profile.task)
        if memory is not None:
            why += f"; a search adds ~{memory:.0f} MB"
        return CostEstimate(learned * ratio, device, why, rule.seconds_per_epoch)


def default_ranker() -> Ranker:
    """The learned ranker when the packaged model is there, else the rule-based one."""
    model = load_model()
    return LearnedRanker(model) if model is not None else RuleBasedRanker()
