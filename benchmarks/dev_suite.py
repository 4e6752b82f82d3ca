"""Run ``automl.fit`` on every dataset of a suite and check the time promise.

Split convention (shared with the peers' figures): rows with a missing target dropped, one 75/25
split with ``random_state=0``, stratified for classification. Prints a table and writes one JSON
object per dataset (as each finishes) to ``benchmarks/results/dev_suite_<budget>s.jsonl``.

    python -m benchmarks.dev_suite --budget 60
    python -m benchmarks.dev_suite --budget 30 --datasets breast_cancer
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_SUITE = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "dev"
RESULTS = Path(__file__).resolve().parent / "results"


def load_split(entry: dict, suite: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(suite / entry["file"])
    df = df[df[entry["target"]].notna()].reset_index(drop=True)
    stratify = df[entry["target"]] if entry["task"] != "regression" else None
    return train_test_split(df, test_size=0.25, random_state=0, stratify=stratify)


def holdout_metrics(result, test: pd.DataFrame, target: str, task: str) -> dict[str, float]:
    from sklearn import metrics

    y = test[target]
    if task == "regression":
        pred = result.predict(test)
        return {"rmse": float(math.sqrt(metrics.mean_squared_error(y, pred))), "r2": float(metrics.r2_score(y, pred))}
    proba = result.predict_proba(test)
    out = {"accuracy": float(metrics.accuracy_score(y, result.predict(test)))}
    out["logloss"] = float(metrics.log_loss(y, proba.to_numpy(), labels=list(proba.columns)))
    if task == "binary":
        positive = proba.columns[1]
        out["auc"] = float(metrics.roc_auc_score(y == positive, proba[positive]))
    return out


def per_framework(result) -> dict[str, dict]:
    """Trials, best validation score (the search metric) and median seconds per trial, per framework."""
    board = result.leaderboard
    out = {}
    for fw, rows in board.groupby("framework"):
        done = rows[rows.state == "COMPLETE"]
        out[str(fw)] = {
            "trials": int(len(rows)),
            "complete": int(len(done)),
            "pruned": int((rows.state == "PRUNED").sum()),
            "failed": int((rows.state == "FAIL").sum()),
            f"best_{result.metric.display_name}": (
                round(float(result.metric.display(done.score.max())), 5) if len(done) else None
            ),
            "median_trial_s": (
                round(float(rows.fit_seconds.dropna().median()), 2) if rows.fit_seconds.notna().any() else None
            ),
        }
    return out


MAIN_METRIC = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}


def peer_table(rows: list[dict], suite: Path, budget: float) -> pd.DataFrame | None:
    """Our main metric next to the peers' recorded figures (``peer_results_<budget>s.jsonl``)."""
    path = suite / f"peer_results_{budget:g}s.jsonl"
    if not path.exists():
        return None
    peers = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    table = []
    for row in rows:
        metric = MAIN_METRIC[row["task"]]
        entry = {"dataset": row["dataset"], "metric": metric, "automl": row[metric]}
        for p in peers:
            if p["dataset"] == row["dataset"]:
                entry[p["system"]] = p.get(metric)
        table.append(entry)
    return pd.DataFrame(table)


def main(argv: list[str] | None = None) -> int:
    import automl

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--datasets", nargs="*", help="names from the manifest (default: all)")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--frameworks", nargs="*")
    ap.add_argument("--out", type=Path)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    manifest = json.loads((args.suite / "manifest.json").read_text())
    entries = [e for e in manifest if not args.datasets or e["name"] in args.datasets]
    out = args.out or RESULTS / f"dev_suite_{args.budget:g}s.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("")  # one file per run: the committed table is exactly what the last run printed
    rows = []
    for entry in entries:
        train, test = load_split(entry, args.suite)
        t0 = time.monotonic()
        result = automl.fit(
            train, entry["target"], time_budget=args.budget, n_jobs=args.n_jobs, frameworks=args.frameworks
        )
        wall = time.monotonic() - t0
        scores = holdout_metrics(result, test, entry["target"], entry["task"])
        board = result.leaderboard
        row = {
            "dataset": entry["name"], "task": entry["task"], "rows_train": len(train), "budget": args.budget,
            "wall_s": round(wall, 2), "promise_kept": wall <= args.budget * 1.05 + 5,
            "best_framework": result.best_framework, "best_model": result.best_model_family,
            "trials": int(len(board)),
            "trials_by_framework": {k: int(v) for k, v in board["framework"].value_counts().items()},
            "refit": result.refit.partition("; no ensemble")[0].split(":")[0],
            # The members of the ensemble that replaced the best model, or why none did.
            "ensemble": len(result.ensemble) or result.refit.partition("; no ensemble: ")[2] or None,
            **{k: round(v, 5) for k, v in scores.items()},
            "per_framework": per_framework(result),
        }
        rows.append(row)
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows)
    cols = [c for c in ["dataset", "task", "wall_s", "promise_kept", "auc", "logloss", "accuracy", "rmse", "r2",
                        "best_framework", "best_model", "trials", "refit"] if c in table]
    print()
    print(table[cols].to_string(index=False))
    if args.frameworks:
        detail = [
            {"dataset": r["dataset"], "framework": fw, **stats}
            for r in rows for fw, stats in r["per_framework"].items()
        ]
        print("\nper framework (validation metric of the search, median seconds per trial):")
        print(pd.DataFrame(detail).to_string(index=False))
    peers = peer_table(rows, args.suite, args.budget)
    if peers is not None:
        print("\nholdout main metric next to the peers' recorded runs (higher AUC, lower logloss/rmse is better):")
        print(peers.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    kept = int(table.promise_kept.sum())
    print(
        f"\ntime promise (wall <= {args.budget:g} x 1.05 + 5 s) kept on {kept} of {len(table)} datasets; "
        f"max wall {table.wall_s.max():.1f} s"
    )
    return 0 if bool(np.all(table.promise_kept)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
