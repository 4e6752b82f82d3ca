"""Ranking candidate frameworks for a dataset on a machine, with reasons and predicted cost.

Every ranker implements :class:`Ranker`; the rule-based one is the default now and stays the
fallback and the source of readable reasons when a learned ranker arrives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from recommender.cost import (
    CPU_FLOPS_PER_CORE,
    GPU_FLOPS,
    GPU_MIN_CELLS,
    CostEstimate,
    epoch_seconds,
    estimate_fit_seconds,
    gpu_pays,
)
from recommender.hardware import HardwareProfile
from recommender.profile import DatasetProfile
from search_spaces import FrameworkAdapter, all_adapters

DeviceChoice = Literal["auto", "cpu", "cuda"]
#: When no frameworks are named, candidates scoring this far below the best are left out of the search.
AUTO_SCORE_GAP = 0.2
#: Networks use the GPU from this many rows on; below, kernel launches and transfers dominate.
NETWORK_GPU_MIN_ROWS = 5_000
#: A framework whose trial is predicted to take more than this share of the budget is excluded.
MAX_BUDGET_SHARE_PER_TRIAL = 0.5


@dataclass(frozen=True)
class Candidate:
    framework: str
    display_name: str
    score: float
    seconds_per_fit: float
    seconds_per_trial: float
    device: str
    reasons: tuple[str, ...]


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
                "rank": i + 1, "framework": c.framework, "score": round(c.score, 3),
                "seconds_per_trial": round(c.seconds_per_trial, 2),
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
        return cls(
            candidates=tuple(Candidate(**{**c, "reasons": tuple(c["reasons"])}) for c in d["candidates"]),
            excluded=tuple(Exclusion(**e) for e in d["excluded"]),
            time_budget=d.get("time_budget"),
            ranker=d["ranker"],
            notes=tuple(d.get("notes", ())),
            explanation=tuple(d.get("explanation", ())),
        )

    def summary(self) -> str:
        lines = [f"Recommendation (ranker: {self.ranker}):"]
        lines.extend(f"  {e}" for e in self.explanation)
        for i, c in enumerate(self.candidates, 1):
            lines.append(
                f"  {i}. {c.display_name} (score {c.score:.2f}, ~{c.seconds_per_trial:.2f} s per trial on {c.device})"
            )
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
        counterfactual: bool = False,
    ) -> Recommendation:
        """Rank the frameworks; ``fits_per_trial`` is how many full-data fits one trial costs
        (e.g. 4 for 5-fold cross-validation, 0.8 for an 80% holdout). With ``frameworks=None``
        the ranker picks the candidates; ``include`` names frameworks it must keep regardless."""
        adapters = [a for a in all_adapters() if frameworks is None or a.name in frameworks]
        candidates: list[Candidate] = []
        excluded: list[Exclusion] = []
        slow: list[Candidate] = []
        notes: list[str] = []
        for adapter in adapters:
            if not adapter.supports(profile.task):
                excluded.append(Exclusion(adapter.name, f"does not support {profile.task} tasks"))
                continue
            if not adapter.is_installed():
                excluded.append(
                    Exclusion(adapter.name, f"not installed ({adapter.install_hint})")
                )
                continue
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
            cand = Candidate(
                adapter.name, adapter.display_name, quality, cost.seconds, per_trial, chosen, tuple(reasons)
            )
            if time_budget is not None and per_trial > MAX_BUDGET_SHARE_PER_TRIAL * time_budget:
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
        for c in slow:
            excluded.append(
                Exclusion(
                    c.framework,
                    f"too slow for the budget: ~{c.seconds_per_trial:.1f} s per trial against "
                    f"{time_budget:.0f} s in all",
                )
            )
        candidates.sort(key=lambda c: (-c.score, c.seconds_per_trial))
        if frameworks is None and candidates:
            top = candidates[0]
            kept = [c for c in candidates if c.score >= top.score - AUTO_SCORE_GAP or c.framework in include]
            for c in candidates:
                if c not in kept:
                    excluded.append(
                        Exclusion(
                            c.framework,
                            f"expected to trail {top.display_name} here (score {c.score:.2f} vs {top.score:.2f}; "
                            + "; ".join(r for r in c.reasons[1:] if not r.startswith("predicted"))
                            + "); pass frameworks=[...] to search it anyway",
                        )
                    )
            candidates = kept
        explanation = explain(candidates, profile, hardware)
        if not hardware.has_gpu and candidates and not counterfactual:
            alt = self.rank(
                profile, _with_gpu(hardware), time_budget=time_budget, frameworks=frameworks, device=device,
                fits_per_trial=fits_per_trial, include=include, counterfactual=True,
            )
            explanation += gpu_counterfactual(candidates, alt.candidates)
        return Recommendation(
            tuple(candidates), tuple(excluded), time_budget, self.name, tuple(notes), tuple(explanation)
        )


NETWORKS = ("keras", "torch", "autokeras")


def _facts(profile: DatasetProfile) -> str:
    kinds = profile.kind_counts()
    n_cat = kinds.get("categorical", 0) + kinds.get("boolean", 0)
    parts = [f"{profile.n_rows:,} rows", f"{profile.n_features} features"]
    if n_cat:
        parts.append(f"{n_cat} categorical")
    if profile.missing_ratio >= 0.01:
        parts.append(f"{profile.missing_ratio:.0%} missing")
    if profile.task != "regression":
        parts.append(f"{profile.n_classes} classes")
    return ", ".join(parts)


def _speed(c: Candidate, hardware: HardwareProfile) -> str:
    where = "the GPU" if c.device == "cuda" else f"{hardware.physical_cores} CPU core(s)"
    return f"one {c.display_name} trial here takes ~{c.seconds_per_trial:.2g} s on {where}"


def explain(candidates: Sequence[Candidate], profile: DatasetProfile, hardware: HardwareProfile) -> list[str]:
    """The ranking in one sentence of facts and numbers: why the first choice, at what cost."""
    if not candidates:
        return []
    top = candidates[0]
    line = f"{_facts(profile)}: {top.display_name} first"
    if len(candidates) > 1:
        second = candidates[1]
        margin = top.score - second.score
        if round(margin, 3) == 0 and 0 < top.seconds_per_trial < second.seconds_per_trial:
            # a tie on score is broken by cost: say so rather than print "+0.000"
            line += (f", level with {second.display_name} on expected score and "
                     f"~{second.seconds_per_trial / top.seconds_per_trial:.1f}x faster per trial")
        else:
            line += f", expected {margin:+.3f} over {second.display_name}"
    networks = [c for c in candidates[2:] if c.framework in NETWORKS]
    if networks and top.framework not in NETWORKS and candidates[1].framework not in NETWORKS:
        net = networks[0]
        line += f" and {top.score - net.score:+.3f} over a {net.display_name} network"
    return [line + f"; {_speed(top, hardware)}"]


def _with_gpu(hardware: HardwareProfile) -> HardwareProfile:
    """The same machine with one typical GPU that every GPU-capable framework could use."""
    from dataclasses import replace

    from recommender.hardware import GPUInfo

    frameworks = {
        name: replace(st, gpu_build=True, can_use_gpu=True, gpu_reason="assumed: a CUDA GPU and a CUDA build")
        for name, st in hardware.frameworks.items()
    }
    return replace(hardware, gpus=(GPUInfo(0, "a GPU", 16_000),), frameworks=frameworks)


def gpu_counterfactual(now: Sequence[Candidate], with_gpu: Sequence[Candidate]) -> list[str]:
    """What a GPU would change, where it changes the ranking or makes a candidate much faster."""
    order_now = [c.framework for c in now]
    out = []
    for rank, c in enumerate(with_gpu, 1):
        if c.device != "cuda":
            continue
        before = next((b for b in now if b.framework == c.framework), None)
        moved = before is None or order_now.index(c.framework) + 1 != rank
        faster = before is not None and before.seconds_per_trial >= 2 * c.seconds_per_trial
        if moved or faster:
            where = "first" if rank == 1 else f"choice #{rank}"
            out.append(
                f"with a GPU, {c.display_name} would be {where} at ~{c.seconds_per_trial:.2g} s per trial"
                + ("" if before is None else f" (now ~{before.seconds_per_trial:.2g} s on the CPU)")
            )
    return out[:2]


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
        text += f" (a GPU would take ~{gpu:.2g} s: assumes {GPU_FLOPS / 1e12:.0f} TFLOP/s against "
        text += f"{CPU_FLOPS_PER_CORE / 1e9:.0f} GFLOP/s per CPU core)"
    return text


class RuleBasedRanker(Ranker):
    """Hand-written rules from the profiles; each rule that fires becomes a reason."""

    name = "rule-based"
    PRIORS = {
        "xgboost": 0.62, "lightgbm": 0.61, "catboost": 0.60, "sklearn": 0.60, "torch": 0.47, "keras": 0.46,
        "autokeras": 0.42,
    }

    def score(
        self, adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile
    ) -> tuple[float, list[str]]:
        s = self.PRIORS.get(adapter.name, 0.5)
        reasons: list[str] = []
        kinds = profile.kind_counts()
        n_cat = kinds.get("categorical", 0) + kinds.get("boolean", 0)
        n, p = profile.n_rows, max(profile.n_features, 1)
        name = adapter.name
        if name == "xgboost":
            reasons.append("gradient-boosted trees are the strongest default on tabular data")
            if n_cat and n_cat / p >= 0.3:
                s += 0.05
                reasons.append(f"{n_cat} of {p} columns are categorical: native categorical splits")
            if profile.missing_ratio >= 0.02:
                s += 0.03
                reasons.append(
                    f"{profile.missing_ratio:.1%} missing cells: learns a default direction for missing values"
                )
            if n >= 100_000:
                s += 0.05
                reasons.append(f"{n:,} rows: multi-threaded histogram boosting scales well")
            if n < 1_000:
                s -= 0.05
                reasons.append(f"only {n:,} rows: boosted trees overfit easily; simpler models often match them")
            if hardware.can_use_gpu(name) and gpu_pays(profile):
                s += 0.05
                reasons.append("a usable GPU makes each trial several times faster")
        elif name == "lightgbm":
            reasons.append("leaf-wise gradient-boosted trees: usually the fastest booster per trial on CPU")
            if n >= 100_000:
                s += 0.06
                reasons.append(f"{n:,} rows: histogram, leaf-wise boosting is fast at this size")
            if p >= 100:
                s += 0.03
                reasons.append(f"{p} features: feature bundling and column sampling keep wide data fast")
            if n_cat and n_cat / p >= 0.3:
                s += 0.03
                reasons.append(f"{n_cat} of {p} columns are categorical: native categorical splits")
            if n < 1_000:
                s -= 0.06
                reasons.append(f"only {n:,} rows: leaf-wise trees overfit small data easily")
        elif name == "catboost":
            reasons.append("ordered boosting on oblivious trees: robust defaults, slower per trial than the others")
            high_card = [c.name for c in profile.columns if c.kind == "categorical" and c.n_unique > 10]
            if n_cat and n_cat / p >= 0.3:
                s += 0.07
                reasons.append(f"{n_cat} of {p} columns are categorical: ordered target statistics handle them well")
            elif high_card:
                s += 0.04
                reasons.append(f"{len(high_card)} high-cardinality categorical column(s): target statistics suit them")
            if n < 1_000:
                s -= 0.03
                reasons.append(f"only {n:,} rows: ordered boosting overfits less than other boosters, but simpler "
                               "models often match it")
            if n >= 100_000 and not hardware.can_use_gpu(name):
                s -= 0.04
                reasons.append(f"{n:,} rows on the CPU: several times slower per trial than LightGBM or XGBoost")
            if hardware.can_use_gpu(name) and gpu_pays(profile):
                s += 0.05
                reasons.append("a usable GPU makes each trial several times faster")
        elif adapter.network:
            s, more = _network_rules(adapter, profile, hardware, s, n, kinds)
            reasons.extend(more)
        elif name == "sklearn":
            reasons.append("searches linear models, forests, histogram boosting and k-NN in one space")
            if n < 1_000:
                s += 0.08
                reasons.append(
                    f"only {n:,} rows: regularised linear models and forests are robust and cheap to cross-validate"
                )
            if p >= 100 and n < 5_000:
                s += 0.04
                reasons.append(f"{p} features for {n:,} rows: regularised linear models handle wide data well")
            if kinds.get("text", 0):
                s += 0.05
                reasons.append(f"{kinds['text']} free-text column(s): linear models on TF-IDF features suit text")
            if n >= 1_000_000:
                s -= 0.05
                reasons.append(f"{n:,} rows: forests and k-NN grow slow; only histogram boosting scales")
        return max(0.0, min(1.0, s)), reasons


def _network_rules(
    adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, s: float, n: int,
    kinds: dict[str, int],
) -> tuple[float, list[str]]:
    reasons = ["a neural network: flexible, but on tabular data it usually needs many rows to match boosted trees"]
    if n < 10_000:
        s -= 0.12
        reasons.append(f"only {n:,} rows: networks rarely beat boosted trees or forests at this size")
    elif n >= 200_000:
        s += 0.08
        reasons.append(f"{n:,} rows: enough data for a network to compete")
    if hardware.can_use_gpu(adapter.name):
        s += 0.08
        reasons.append("a usable GPU trains it many times faster than the CPU")
    elif hardware.physical_cores <= 4:
        s -= 0.06
        reasons.append(f"no usable GPU and {hardware.physical_cores} CPU core(s): each epoch is slow")
    if kinds.get("text", 0):
        s += 0.03
        reasons.append("free-text columns suit learned representations")
    high_card = [c.name for c in profile.columns if c.kind == "categorical" and c.n_unique > 50]
    if adapter.name == "torch" and high_card:
        s += 0.03
        reasons.append(f"{len(high_card)} high-cardinality categorical column(s): learned embeddings help")
    return s, reasons


def recommend_frameworks(
    profile: DatasetProfile,
    hardware: HardwareProfile,
    *,
    time_budget: float | None = None,
    frameworks: Sequence[str] | None = None,
    device: DeviceChoice = "auto",
    ranker: Ranker | None = None,
    fits_per_trial: float = 1.0,
    include: Sequence[str] = (),
) -> Recommendation:
    """Rank the frameworks for this dataset and machine (rule-based unless ``ranker`` is given)."""
    if ranker is None:
        from recommender.learned import default_ranker

        ranker = default_ranker()
    return ranker.rank(
        profile, hardware, time_budget=time_budget, frameworks=frameworks, device=device,
        fits_per_trial=fits_per_trial, include=include,
    )
