"""Algorithm selection judged as ASlib judges it: the share of the gap closed between the single
best solver and the oracle, with a paired bootstrap interval over dataset groups.

Used by :mod:`benchmarks.recommender_model` (``make eval-recommender``). Every ranker of the
grouped leave-one-dataset-out evaluation leaves one record per held-out dataset: its group, the
oracle's score (the best framework's normalised score on that dataset), the score of the
ranker's first choice and the better of its first two choices. From those:

- **regret**: oracle score minus the chosen framework's score (normalised scores), averaged over
  datasets; the oracle's regret is 0 by definition;
- **gap closed**: ``(regret_SBS - regret_ranker) / (regret_SBS - regret_oracle)`` on the means,
  where SBS, the single best solver, is "always the framework best on average" learned on the
  training groups of each split. 0% is the SBS, 100% the oracle, below 0% worse than the SBS;
- **interval**: a paired bootstrap over dataset groups (near-duplicate datasets move together):
  each resample draws the held-out groups with replacement, and the SBS, the ranker and the oracle
  are all measured on that same resample; the 90% percentile interval of the gap closed over
  :data:`RESAMPLES` resamples, seed :data:`SEED`. Resamples where the SBS has no regret leave the
  gap undefined and are dropped (their count is reported);
- **top-1 / top-2 hit rate**, as context: the first choice (or one of the first two) within the
  hit tolerance of the best framework.

A ranker ships only when its interval's lower bound is above 0% (:func:`ships`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RESAMPLES = 2000
SEED = 0
LEVEL = 0.90
#: The issue's goal: a ranking that closes at least this share of the gap, with a positive lower bound.
GOAL = 0.30


@dataclass(frozen=True)
class Pick:
    """One ranker on one held-out dataset."""

    group: str
    best: float  # the oracle's normalised score
    first: float  # the score of the ranker's first choice
    top2: float  # the better score of its first two choices


def gap_closed(regret_sbs: float, regret_ranker: float, regret_oracle: float = 0.0) -> float:
    """The share of the SBS-to-oracle gap the ranker closes (1.0 = the oracle, 0.0 = the SBS); NaN
    when the SBS has no gap to close."""
    gap = regret_sbs - regret_oracle
    return float("nan") if gap <= 0 else float((regret_sbs - regret_ranker) / gap)


def group_sums(picks: Sequence[Pick], groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per group of ``groups`` (in that order): the summed regret and the number of datasets."""
    index = {g: i for i, g in enumerate(groups)}
    regret, count = np.zeros(len(groups)), np.zeros(len(groups))
    for p in picks:
        regret[index[p.group]] += p.best - p.first
        count[index[p.group]] += 1
    return regret, count


def bootstrap_gap(
    sbs: Sequence[Pick], ranker: Sequence[Pick], *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float, int]:
    """The ``level`` percentile interval of the gap closed by ``ranker`` over paired resamples of the
    dataset groups, and how many resamples were dropped (the SBS had no regret in them).

    ``sbs`` and ``ranker`` hold one :class:`Pick` per held-out dataset, on the same datasets. The
    oracle's regret is 0 on every resample, so the gap closed is ``1 - regret_ranker / regret_SBS``
    on the resample's means (both means over the same datasets, so their counts cancel).
    """
    groups = sorted({p.group for p in sbs})
    if sorted({p.group for p in ranker}) != groups or len(sbs) != len(ranker):
        raise ValueError("sbs and ranker must hold one pick per held-out dataset, on the same datasets")
    if not groups:
        return float("nan"), float("nan"), 0
    sbs_regret, _ = group_sums(sbs, groups)
    ranker_regret, _ = group_sums(ranker, groups)
    rng = np.random.default_rng(seed)
    # counts[r, g]: how often resample r drew group g; the same draws for the SBS and the ranker.
    draws = rng.integers(0, len(groups), size=(resamples, len(groups)))
    counts = np.zeros((resamples, len(groups)))
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1)
    total_sbs, total_ranker = counts @ sbs_regret, counts @ ranker_regret
    defined = total_sbs > 0
    gaps = 1.0 - total_ranker[defined] / total_sbs[defined]
    if not len(gaps):
        return float("nan"), float("nan"), resamples
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(gaps, [tail, 100 - tail])
    return float(low), float(high), int(resamples - defined.sum())


def figures(picks: Sequence[Pick], sbs: Sequence[Pick], tolerance: float, **bootstrap: Any) -> dict[str, Any]:
    """One ranker's row: datasets, mean regret, gap closed with its interval, top-1 and top-2 hit rates."""
    regret = float(np.mean([p.best - p.first for p in picks]))
    sbs_regret = float(np.mean([p.best - p.first for p in sbs]))
    low, high, dropped = bootstrap_gap(sbs, picks, **bootstrap)
    return {
        "datasets": len(picks), "groups": len({p.group for p in picks}), "regret": regret,
        "gap_closed": gap_closed(sbs_regret, regret), "gap_low": low, "gap_high": high, "dropped_resamples": dropped,
        "top1": float(np.mean([p.first >= p.best - tolerance for p in picks])),
        "top2": float(np.mean([p.top2 >= p.best - tolerance for p in picks])),
    }


def ships(row: Mapping[str, Any]) -> bool:
    """A ranker ships only when the lower bound of its gap-closed interval is above 0%."""
    low = row.get("gap_low")
    return low is not None and bool(np.isfinite(low)) and low > 0


def oracle_row(sbs: Sequence[Pick]) -> dict[str, Any]:
    """The oracle (the best framework of every dataset, in hindsight): regret 0, the whole gap."""
    return {"datasets": len(sbs), "groups": len({p.group for p in sbs}), "regret": 0.0, "gap_closed": 1.0,
            "gap_low": 1.0, "gap_high": 1.0, "dropped_resamples": 0, "top1": 1.0, "top2": 1.0}


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.1%}"


def table_lines(rows: Mapping[str, Mapping[str, Any]], sbs_name: str) -> list[str]:
    """The markdown table: one row a ranker, the SBS and the oracle included."""
    lines = [
        f"| ranking | datasets | mean regret | gap closed (SBS 0%, oracle 100%) | {LEVEL:.0%} interval "
        "| top-1 hit rate | top-2 hit rate | ships (lower bound > 0%) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        interval = "(reference)" if name == sbs_name or r["gap_closed"] == 1.0 and r["regret"] == 0 else (
            f"[{_pct(r['gap_low'])}, {_pct(r['gap_high'])}]")
        label = f"{name} (SBS)" if name == sbs_name else name
        verdict = "-" if interval == "(reference)" else ("yes" if ships(r) else "no")
        lines.append(f"| {label} | {r['datasets']} | {r['regret']:.4f} | {_pct(r['gap_closed'])} | {interval} "
                     f"| {r['top1']:.1%} | {r['top2']:.1%} | {verdict} |")
    return lines
