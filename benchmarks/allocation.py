"""How fast the search gets close to its final score: cost-aware allocation against frameworks taking turns.

    python -m benchmarks.allocation [--budget 60] [--datasets iris adult ...]
                                    [--out benchmarks/results/allocation_60s.jsonl]

For each dev-suite dataset (the training rows of the benchmark split), ``automl.fit`` runs twice at
the same budget and seed: ``allocation="cost"`` (the next framework by estimated cost for
improvement, starting from the recommender's predicted costs: the learned ones when
``recommender/learned_model.json`` is there) and ``allocation="uniform"`` (frameworks take turns).
Both see the same validation splits, so their validation scores compare directly. From each run's
trials (completion time, value) the best-so-far curve is normalised with the constant predictor as
0 and the better of the two final scores as 1; the figure is the seconds until a run first reaches
0.99 (never: counted as the budget). Prints a table, appends JSON lines to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._suite import read_manifest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT.parent / "shared" / "datasets" / "dev"
ALLOCATIONS = ("cost", "uniform")
TARGET = 0.99


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}s"


def constant_score(metric: str, y: pd.Series) -> float:
    """The validation score of a constant (prior) prediction, in the scorer's greater-is-better sign."""
    if metric == "roc_auc":
        return 0.5
    if metric == "neg_log_loss":
        p = y.value_counts(normalize=True).to_numpy()
        return float((p * np.log(p)).sum())
    if metric == "neg_root_mean_squared_error":
        return -float(y.std(ddof=0))
    raise ValueError(f"no constant score for metric {metric!r}")


def curve(result: Any, started: datetime.datetime) -> list[tuple[float, float]]:
    """(seconds since the fit started, best value so far) at each completed trial."""
    out: list[tuple[float, float]] = []
    best = -math.inf
    trials = [t for t in result.study.trials if t.value is not None and t.datetime_complete is not None]
    for t in sorted(trials, key=lambda t: t.datetime_complete):
        if t.value > best:
            best = float(t.value)
            out.append(((t.datetime_complete - started).total_seconds(), best))
    return out


def seconds_to(points: list[tuple[float, float]], level: float) -> float | None:
    return next((s for s, v in points if v >= level), None)


def run(entry: dict[str, Any], budget: float, suite: Path) -> dict[str, Any]:
    import automl
    from benchmarks._suite import load_split

    train, _ = load_split(entry, suite)
    target = entry["target"]
    runs = {}
    for allocation in ALLOCATIONS:
        started = datetime.datetime.now()
        t = time.monotonic()
        result = automl.fit(
            train, target, time_budget=budget, ensemble=False, verbosity=0, seed=0,
            search_options={"allocation": allocation},
        )
        runs[allocation] = {"result": result, "curve": curve(result, started), "wall": time.monotonic() - t}
    metric = runs["cost"]["result"].metric.name
    y = train[target].dropna()
    const = constant_score(metric, y)
    final = max(r["curve"][-1][1] for r in runs.values() if r["curve"])
    level = const + TARGET * (final - const)
    from benchmarks.compare import source_commit

    record: dict[str, Any] = {"dataset": entry["name"], "budget": budget, "metric": metric, "constant": const,
                              "final_best": final, "ranker": runs["cost"]["result"].recommendation.ranker,
                              "commit": source_commit(), "date": datetime.date.today().isoformat()}
    for allocation, r in runs.items():
        reached = seconds_to(r["curve"], level)
        record[allocation] = {
            "seconds_to_99": reached, "final": r["curve"][-1][1] if r["curve"] else None,
            "trials": len(r["result"].leaderboard), "wall": round(r["wall"], 1),
            "frameworks": r["result"].leaderboard.framework.value_counts().to_dict(),
        }
    return record


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--datasets", nargs="*")
    ap.add_argument("--suite", type=Path, default=SUITE)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    out = args.out or ROOT / "benchmarks" / "results" / f"allocation_{args.budget:g}s.jsonl"
    entries = [e for e in read_manifest(args.suite) if not args.datasets or e["name"] in args.datasets]
    records = []
    for entry in entries:
        record = run(entry, args.budget, args.suite)
        records.append(record)
        with open(out, "a") as f:
            f.write(json.dumps(record, default=str) + "\n")
        c, u = (record[a]["seconds_to_99"] for a in ALLOCATIONS)
        print(f"{entry['name']:<22} cost {_seconds(c):>7}  uniform {_seconds(u):>7}  (ranker: {record['ranker']})",
              flush=True)
    budget = args.budget
    cost = [r["cost"]["seconds_to_99"] or budget for r in records]
    uniform = [r["uniform"]["seconds_to_99"] or budget for r in records]
    print(f"\nseconds to 99% of the final score, {len(records)} datasets at {budget:g}s (never reached = budget):")
    print(f"  cost-aware: mean {np.mean(cost):.1f}, median {np.median(cost):.1f}; "
          f"uniform: mean {np.mean(uniform):.1f}, median {np.median(uniform):.1f}")
    faster = sum(c < u for c, u in zip(cost, uniform, strict=True))
    print(f"  cost-aware faster on {faster} of {len(records)}; written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
