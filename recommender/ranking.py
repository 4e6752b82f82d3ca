"""Ranking candidate frameworks for a dataset on a machine, with reasons and predicted cost.

Every ranker implements :class:`Ranker`; the rule-based one is the default now and stays the
fallback and the source of readable reasons when a learned ranker arrives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from recommender import evidence as ev
from recommender import keras_backends
from recommender.calibration import gpu_epoch_basis
from recommender.cost import (
    CPU_FLOPS_PER_CORE,
    GPU_FLOPS,
    GPU_MIN_CELLS,
    CostEstimate,
    epoch_seconds,
    estimate_fit_seconds,
    gpu_pays,
)
from recommender.explanation import explain, gpu_counterfactual, is_network
from recommender.hardware import HardwareProfile
from recommender.meta import meta_features
from recommender.profile import DatasetProfile
from search_spaces import FrameworkAdapter, RankingFacts, all_adapters, get_adapter

DeviceChoice = Literal["auto", "cpu", "cuda"]
#: When no frameworks are named, a candidate without evidence (:mod:`recommender.evidence`) scoring
#: this far below the best by the rules is left out of the search (one with evidence never is by rule).
AUTO_SCORE_GAP = 0.2
#: Networks use the GPU from this many rows on; below, kernel launches and transfers dominate.
NETWORK_GPU_MIN_ROWS = 5_000
#: A framework whose trial is predicted to take more than this share of the budget is excluded.
MAX_BUDGET_SHARE_PER_TRIAL = 0.5


@dataclass(frozen=True)
class Candidate:
    framework: str
    display_name: str
    #: The sort key (the rules' score; a network's placed by its evidence); not a prediction to show.
    score: float
    seconds_per_fit: float
    seconds_per_trial: float
    device: str
    reasons: tuple[str, ...]
    #: Median score relative to the best candidate on ``n_similar`` similar datasets of the meta-dataset,
    #: with its 25th-75th percentile ``spread``; None without evidence for this framework.
    expected_relative: float | None = None
    spread: tuple[float, float] | None = None
    n_similar: int | None = None
    #: Share of those datasets where it reached the best candidate's score: the search's prior for it.
    top_share: float | None = None

    @property
    def figure(self) -> str:
        """"expected 0.97 of the best candidate (median, IQR 0.93-0.99, 15 similar datasets)", or ""."""
        if self.expected_relative is None or self.spread is None:
            return ""
        return (f"expected {self.expected_relative:.2f} of the best candidate (median, IQR "
                f"{self.spread[0]:.2f}-{self.spread[1]:.2f}, {self.n_similar} similar datasets)")


@dataclass(frozen=True)
class Exclusion:
    framework: str
    reason: str


@dataclass(frozen=True)
class Recommendation:
    """Ranked candidates (best first), excluded frameworks with reasons, and what was assumed."""

    candidates: tuple[Candidate, ...]
    excluded: tuple[Exclusion, ...]
    time_budget: float | None
    ranker: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: In words: the dataset and hardware facts behind the ranking, and what a GPU would change.
    explanation: tuple[str, ...] = field(default_factory=tuple)

    @property
    def frameworks(self) -> list[str]:
        return [c.framework for c in self.candidates]

    @property
    def best(self) -> Candidate:
        return self.candidates[0]

    def device_for(self, framework: str) -> str:
        return next((c.device for c in self.candidates if c.framework == framework), "cpu")

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {
                "rank": i + 1, "framework": c.framework, "expected_of_best": c.expected_relative,
                "spread": None if c.spread is None else f"{c.spread[0]:.2f}-{c.spread[1]:.2f}",
                "similar_datasets": c.n_similar, "seconds_per_trial": round(c.seconds_per_trial, 2),
                "seconds_per_fit": round(c.seconds_per_fit, 2), "device": c.device,
                "reasons": "; ".join(c.reasons),
            }
            for i, c in enumerate(self.candidates)
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recommendation:
        """Inverse of :meth:`to_dict` (used when a saved run is loaded)."""
        candidates = tuple(Candidate(**{**c, "reasons": tuple(c["reasons"]),
                                        "spread": None if c.get("spread") is None else tuple(c["spread"])})
                           for c in d["candidates"])
        return cls(candidates=candidates, excluded=tuple(Exclusion(**e) for e in d["excluded"]),
                   time_budget=d.get("time_budget"), ranker=d["ranker"], notes=tuple(d.get("notes", ())),
                   explanation=tuple(d.get("explanation", ())))

    def summary(self) -> str:
        lines = [f"Recommendation (ranker: {self.ranker}):"]
        lines.extend(f"  {e}" for e in self.explanation)
        for i, c in enumerate(self.candidates, 1):
            figure = f"{c.figure}, " if c.figure else ""
            lines.append(f"  {i}. {c.display_name} ({figure}~{c.seconds_per_trial:.2f} s per trial on {c.device})")
            lines.extend(f"       - {r}" for r in c.reasons)
        for e in self.excluded:
            lines.append(f"  excluded {e.framework}: {e.reason}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The notebook view: why (in words, with the GPU counterfactual), the ranking with costs and
        reasons, what was excluded and the notes."""
        from html import escape

        def items(lines: Sequence[str]) -> str:
            return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"

        excluded = [f"{e.framework}: {e.reason}" for e in self.excluded]
        return (
            f"<div><b>Recommendation</b> (ranker: {escape(self.ranker)})"
            + (items(self.explanation) if self.explanation else "")
            + self.to_frame().to_html(index=False)
            + (f"<p>Excluded:</p>{items(excluded)}" if excluded else "")
            + (f"<p>Notes:</p>{items(self.notes)}" if self.notes else "")
            + "</div>"
        )


class Ranker(ABC):
    """Orders the frameworks that can run here; says why, and what one fit will cost."""

    name: str = "base"
    #: The meta-dataset's evidence (None: the packaged one, :func:`recommender.evidence.load_evidence`).
    evidence_source: ev.Evidence | None = None

    def evidence(self) -> ev.Evidence | None:
        return self.evidence_source if self.evidence_source is not None else ev.load_evidence()

    @abstractmethod
    def score(
        self, adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile
    ) -> tuple[float, list[str]]:
        """Expected relative quality in [0, 1] and the reasons behind it."""

    def cost(
        self, adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, device: str
    ) -> CostEstimate:
        """Predicted seconds of one fit on all rows (one core; see :mod:`recommender.cost`)."""
        return estimate_fit_seconds(adapter, profile, hardware, device)

    def rank(
        self,
        profile: DatasetProfile,
        hardware: HardwareProfile,
        *,
        time_budget: float | None = None,
        frameworks: Sequence[str] | None = None,
        device: DeviceChoice = "auto",
        fits_per_trial: float = 1.0,
        include: Sequence[str] = (),
        sampled_rows: int | None = None,
        counterfactual: bool = False,
    ) -> Recommendation:
        """Rank the frameworks; ``fits_per_trial`` is how many full-data fits one trial costs
        (e.g. 4 for 5-fold cross-validation, 0.8 for an 80% holdout). With ``frameworks=None``
        the ranker picks the candidates; ``include`` names frameworks it must keep regardless.
        ``sampled_rows``: the fewest training rows the search may sample a trial down to on this
        data (None: trials always train on all rows); a framework is too slow for the budget only
        when a trial on that many rows is."""
        candidates: list[Candidate] = []
        excluded: list[Exclusion] = []
        slow: list[Candidate] = []
        notes: list[str] = []
        for adapter in all_adapters():
            if frameworks is not None and adapter.name not in frameworks:
                continue
            why_not = _cannot_run(adapter, profile)
            if why_not:
                excluded.append(Exclusion(adapter.name, why_not))
                continue
            cand = self._candidate(adapter, profile, hardware, device, fits_per_trial)
            per_trial = cand.seconds_per_trial
            if time_budget is not None and per_trial > MAX_BUDGET_SHARE_PER_TRIAL * time_budget:
                sampled = self._sampled_trial(adapter, profile, hardware, cand.device, sampled_rows)
                if sampled is not None and sampled <= MAX_BUDGET_SHARE_PER_TRIAL * time_budget:
                    candidates.append(replace(cand, reasons=(*cand.reasons, (
                        f"a trial on all rows would take ~{per_trial:.0f} s of the {time_budget:.0f} s budget, so the "
                        f"search trains trials on a sample of at least {sampled_rows:,} rows (~{sampled:.2g} s a "
                        "trial there) and the final model on all rows"))))
                    continue
                if frameworks is None and adapter.name not in include:
                    slow.append(cand)
                    continue
                notes.append(
                    f"{adapter.name} was requested although a trial is predicted to take ~{per_trial:.0f} s of the "
                    f"{time_budget:.0f} s budget; its trials stop at their deadline"
                )
            candidates.append(cand)
        if not candidates and slow:
            fastest = min(slow, key=lambda c: c.seconds_per_trial)
            slow.remove(fastest)
            candidates.append(fastest)
            notes.append(
                f"every framework is predicted to need more than {MAX_BUDGET_SHARE_PER_TRIAL:.0%} of the "
                f"budget per trial; kept the fastest ({fastest.framework}); consider a larger time_budget"
            )
        excluded += [
            Exclusion(c.framework, f"too slow for the budget: ~{c.seconds_per_trial:.1f} s per trial against "
                                   f"{time_budget:.0f} s in all")
            for c in slow
        ]
        candidates = _with_evidence(candidates, self.evidence(), profile, hardware)
        candidates.sort(key=lambda c: (-c.score, c.seconds_per_trial))
        if frameworks is None and candidates:
            candidates, trailing = _prune(candidates, include, time_budget, self.evidence())
            excluded += trailing
        explanation = explain(candidates, profile, hardware)
        if not hardware.has_gpu and candidates and not counterfactual:
            alt = self.rank(
                profile, _with_gpu(hardware), time_budget=time_budget, frameworks=frameworks, device=device,
                fits_per_trial=fits_per_trial, include=include, sampled_rows=sampled_rows, counterfactual=True,
            )
            explanation += gpu_counterfactual(candidates, alt.candidates)
        return Recommendation(
            tuple(candidates), tuple(excluded), time_budget, self.name, tuple(notes), tuple(explanation)
        )

    def _sampled_trial(
        self, adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, device: str,
        rows: int | None,
    ) -> float | None:
        """Predicted seconds of one trial trained on ``rows`` sampled rows (None when the search does
        not sample, or would not sample this data down)."""
        if rows is None or rows >= profile.n_rows:
            return None
        return self.cost(adapter, replace(profile, n_rows=rows), hardware, device).seconds

    def _candidate(
        self, adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, device: DeviceChoice,
        fits_per_trial: float,
    ) -> Candidate:
        """One framework's score, cost and device, with the reasons for each."""
        chosen, device_reason = _choose_device(adapter, profile, hardware, device)
        cost = self.cost(adapter, profile, hardware, chosen)
        quality, reasons = self.score(adapter, profile, hardware)
        if cost.seconds_per_epoch is not None:
            reasons.append(_epoch_reason(adapter, profile, hardware, chosen, cost.seconds_per_epoch))
        per_trial = cost.seconds * fits_per_trial
        reasons.append(
            f"predicted {per_trial:.2f} s per trial: {cost.seconds:.2f} s per fit on all rows "
            f"({cost.explanation}) x {fits_per_trial:g} fits per trial"
        )
        if device_reason:
            reasons.append(device_reason)
        if adapter.name == "keras":  # which Keras backend, and why (measured speed when known)
            reasons.append(keras_backends.reason())
        return Candidate(
            adapter.name, adapter.display_name, quality, cost.seconds, per_trial, chosen, tuple(reasons)
        )


def _cannot_run(adapter: FrameworkAdapter, profile: DatasetProfile) -> str:
    """Why the framework cannot run on this task here ("" when it can)."""
    if not adapter.supports(profile.task):
        return f"does not support {profile.task} tasks"
    if not adapter.is_installed():
        return f"not installed ({adapter.install_hint})"
    return ""


def _with_evidence(candidates: list[Candidate], evidence: ev.Evidence | None, profile: DatasetProfile,
                   hardware: HardwareProfile) -> list[Candidate]:
    """Each candidate with its evidence (figures and a reason); a network with evidence is placed by it
    after the last (by the rules) non-network whose expected score is at least its own, never above the
    rules' first choice (which passed `make eval-recommender`); the rules' penalties leave its reasons."""
    if evidence is None or not candidates:
        return candidates
    found = evidence.relative(meta_features(profile), profile.task, [c.framework for c in candidates])
    first = min(candidates, key=lambda c: (-c.score, c.seconds_per_trial))
    anchors = [(c.score, found[c.framework].expected) for c in candidates
               if c.framework in found and not is_network(c.framework)]
    out = []
    for c in candidates:
        est = found.get(c.framework)
        if est is None:
            out.append(c)
            continue
        score, reasons = c.score, list(c.reasons)
        if is_network(c.framework):
            penalties = {r for d, r in _network_rules(ranking_facts(get_adapter(c.framework), profile, hardware))
                         if d < 0}
            reasons = [r for r in reasons if r not in penalties]
            above = [s for s, e in anchors if e >= est.expected]
            if anchors:
                score = min(above) - 0.001 if above else max(s for s, _ in anchors) + 0.001
                if c is not first:
                    score = min(score, first.score - 0.001)
        out.append(replace(c, score=score, reasons=(est.describe(c.display_name), *reasons),
                           expected_relative=est.expected, spread=(est.low, est.high), n_similar=est.n_similar,
                           top_share=est.top))
    return out


def _prune(candidates: list[Candidate], include: Sequence[str], time_budget: float | None,
           evidence: ev.Evidence | None) -> tuple[list[Candidate], list[Exclusion]]:
    """The candidates (best first) worth searching, and an exclusion for each of the others: one with
    evidence goes when :func:`recommender.evidence.trails` says so; one without, when it scores
    ``AUTO_SCORE_GAP`` below the best by the rules."""
    top = candidates[0]
    kept, trailing = [], []
    for c in candidates:
        why = None
        if c.framework in include or c is top:
            pass
        elif c.expected_relative is not None and c.spread is not None:
            why = ev.trails(c.display_name, c.expected_relative, c.spread, c.n_similar or 0, time_budget,
                            None if evidence is None else evidence.budget)
        elif c.score < top.score - AUTO_SCORE_GAP:
            why = (f"no evidence for it in the meta-dataset, and by the rules it trails {top.display_name} here ("
                   + "; ".join(r for r in c.reasons[1:] if not r.startswith("predicted")) + ")")
        if why is None:
            kept.append(c)
        else:
            trailing.append(Exclusion(c.framework, why + "; pass frameworks=[...] to search it anyway"))
    return kept, trailing


def _with_gpu(hardware: HardwareProfile) -> HardwareProfile:
    """The same machine with one typical GPU that every GPU-capable framework could use."""
    from recommender.hardware import GPUInfo

    frameworks = {
        name: replace(st, gpu_build=True, can_use_gpu=True, gpu_reason="assumed: a CUDA GPU and a CUDA build")
        for name, st in hardware.frameworks.items()
    }
    return replace(hardware, gpus=(GPUInfo(0, "a GPU", 16_000),), frameworks=frameworks)


def _choose_device(
    adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, device: DeviceChoice
) -> tuple[str, str]:
    if device == "cpu" or not adapter.supports_gpu:
        return "cpu", ""
    status = hardware.frameworks.get(adapter.name)
    if not hardware.can_use_gpu(adapter.name):
        reason = status.gpu_reason if status else "no GPU support detected"
        return "cpu", (f"GPU requested but unusable: {reason}" if device == "cuda" else "")
    gpu = hardware.gpus[0]
    if device == "cuda":
        return "cuda", f"on GPU {gpu.name} as requested"
    if adapter.network:
        if profile.n_rows >= NETWORK_GPU_MIN_ROWS:
            return "cuda", f"on GPU {gpu.name}: dense layers run far faster there"
        return "cpu", f"CPU: below {NETWORK_GPU_MIN_ROWS:,} rows kernel launches outweigh the GPU's speed"
    if gpu_pays(profile):
        return "cuda", f"on GPU {gpu.name}: the data is large enough for the GPU to pay"
    return "cpu", f"CPU: below {GPU_MIN_CELLS / 1e6:.0f}M cells a GPU's transfer overhead outweighs its speed"


def _epoch_reason(
    adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, device: str, per_epoch: float
) -> str:
    """Per-epoch cost in words, with the counterfactual on the other device where one exists."""
    where = "the GPU" if device == "cuda" else "one CPU thread"
    text = f"an epoch here takes ~{per_epoch:.2g} s on {where}"
    if device == "cpu":
        gpu = epoch_seconds(adapter, profile, hardware, "cuda")
        basis = gpu_epoch_basis(adapter.name) or (
            f"assumes {GPU_FLOPS / 1e12:.0f} TFLOP/s against {CPU_FLOPS_PER_CORE / 1e9:.0f} GFLOP/s per CPU core"
        )
        text += f" (a GPU would take ~{gpu:.2g} s: {basis})"
    return text


class RuleBasedRanker(Ranker):
    """Hand-written rules from the profiles; each rule that fires becomes a reason.

    A framework starts from its adapter's ``prior_score``; the rules every network shares come
    first, then the adapter's own (:meth:`~search_spaces.FrameworkAdapter.score_rules`).
    """

    name = "rule-based"

    def score(
        self, adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile
    ) -> tuple[float, list[str]]:
        facts = ranking_facts(adapter, profile, hardware)
        rules = [*(_network_rules(facts) if adapter.network else ()), *adapter.score_rules(facts)]
        s = adapter.prior_score
        for delta, _ in rules:
            s += delta
        return max(0.0, min(1.0, s)), [reason for _, reason in rules]


def ranking_facts(adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile) -> RankingFacts:
    """What the adapters' ranking rules read, from the two profiles."""
    kinds = profile.kind_counts()
    return RankingFacts(
        n_rows=profile.n_rows,
        n_features=max(profile.n_features, 1),
        n_categorical=kinds.get("categorical", 0) + kinds.get("boolean", 0),
        n_text=kinds.get("text", 0),
        missing_ratio=profile.missing_ratio,
        categorical_cardinalities=tuple(c.n_unique for c in profile.columns if c.kind == "categorical"),
        gpu_usable=hardware.can_use_gpu(adapter.name),
        gpu_pays=gpu_pays(profile),
        physical_cores=hardware.physical_cores,
    )


def _network_rules(facts: RankingFacts) -> list[tuple[float, str]]:
    """The rules every neural network shares (adapters with ``network``)."""
    n = facts.n_rows
    rules = [(0.0, "a neural network: flexible, but on tabular data it usually needs many rows to match boosted trees")]
    if n < 10_000:
        rules.append((-0.12, f"only {n:,} rows: networks rarely beat boosted trees or forests at this size"))
    elif n >= 200_000:
        rules.append((0.08, f"{n:,} rows: enough data for a network to compete"))
    if facts.gpu_usable:
        rules.append((0.08, "a usable GPU trains it many times faster than the CPU"))
    elif facts.physical_cores <= 4:
        rules.append((-0.06, f"no usable GPU and {facts.physical_cores} CPU core(s): each epoch is slow"))
    if facts.n_text:
        rules.append((0.03, "free-text columns suit learned representations"))
    return rules
