"""What running trials in a child process costs: milliseconds per trial, in this process and isolated.

    python -m benchmarks.isolation_overhead                      # 1,000 and 100,000 rows, 20 trials each
    python -m benchmarks.isolation_overhead --rows 500 --trials 3 --out /tmp/smoke.jsonl

For each frame size (numeric and string columns, a binary target, 3-fold splits) one
:class:`automl.search._isolation.TrialProcess` starts; a logistic regression and a histogram gradient
boosting with few iterations then run the same number of trials in this process
(:func:`automl.search._folds.fit_folds`) and isolated, alternately, so that other load on the machine
hits both alike. Isolated trials are timed without the fitted model and with it sent back (what the
search asks for when a trial improves on the best). Also measured: the child's start-up (start to
data loaded) and, of that, sending the data. Prints a table and appends JSON lines to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.search._folds import fit_folds
from automl.search._isolation import TrialProcess

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = np.array([f"level_{k}" for k in range(30)], dtype=object)


def make_frame(rows: int, cols: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """``cols`` columns, a fifth of them strings with 30 levels; the target depends on two of them."""
    rng = np.random.default_rng(seed)
    n_cat = max(1, cols // 5)
    data: dict[str, Any] = {f"num{i}": rng.normal(size=rows) for i in range(cols - n_cat)}
    for i in range(n_cat):
        data[f"cat{i}"] = LEVELS[rng.integers(0, len(LEVELS), rows)]
    X = pd.DataFrame(data)
    signal = X["num0"] + (X["cat0"] < "level_15") + rng.normal(scale=0.5, size=rows)
    return X, pd.Series((signal > np.median(signal)).astype(int), name="y")


def estimators(X: pd.DataFrame) -> dict[str, Callable[[], Any]]:
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    cats = [c for c in X.columns if c.startswith("cat")]
    nums = [c for c in X.columns if c not in cats]
    return {
        "logistic_regression": lambda: make_pipeline(
            make_column_transformer((StandardScaler(), nums), (OneHotEncoder(handle_unknown="ignore"), cats)),
            LogisticRegression(max_iter=200),
        ),
        "hist_gradient_boosting_20": lambda: make_pipeline(
            make_column_transformer(
                (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), cats), remainder="passthrough"
            ),
            HistGradientBoostingClassifier(max_iter=20, early_stopping=False),
        ),
    }


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(rows: int, cols: int, trials: int, threads: int) -> list[dict[str, Any]]:
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import StratifiedKFold

    X, y = make_frame(rows, cols)
    splits = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    scorer = get_scorer("roc_auc")
    common: dict[str, Any] = {"classes": np.array([0, 1]), "keep_oof": True, "metric_name": "roc_auc"}
    out = []
    with TrialProcess(X, y, splits, scorer, **common) as proc:
        for name, make in estimators(X).items():

            def here(make: Callable[[], Any] = make) -> None:
                fit_folds(make(), X, y, splits, scorer, deadline=time.monotonic() + 600, report=None,
                          n_threads=threads, **common)

            def isolated(keep: bool, make: Callable[[], Any] = make) -> None:
                proc.run(make(), deadline=time.monotonic() + 600, report=None, n_threads=threads, keep_model=keep)

            first = timed(lambda: isolated(False))  # the first estimator's includes the child's start
            here()  # warm both sides: imports and caches
            times: dict[str, list[float]] = {"in_process": [], "isolated": [], "isolated_with_model": []}
            for _ in range(trials):
                times["in_process"].append(timed(here))
                times["isolated"].append(timed(lambda: isolated(False)))
                times["isolated_with_model"].append(timed(lambda: isolated(True)))
            ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
            out.append({
                "rows": rows, "cols": cols, "estimator": name, "trials": trials, "threads": threads,
                "in_process_ms": round(ms["in_process"], 1), "isolated_ms": round(ms["isolated"], 1),
                "isolated_with_model_ms": round(ms["isolated_with_model"], 1),
                "overhead_ms": round(ms["isolated"] - ms["in_process"], 1),
                "model_transfer_ms": round(ms["isolated_with_model"] - ms["isolated"], 1),
                "start_seconds": round(proc.start_seconds, 3), "data_seconds": round(proc.data_seconds, 3),
                "data_mb": round(proc.data_bytes / 2**20, 2), "child_baseline_mb": round(proc.baseline_mb, 1),
                "first_trial_seconds": round(first, 3), "cores": os.cpu_count(),
                "python": platform.python_version(), "date": time.strftime("%Y-%m-%d"),
            })
            print(json.dumps(out[-1]), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000, 100_000])
    ap.add_argument("--cols", type=int, default=20)
    ap.add_argument("--trials", type=int, default=20, help="trials per estimator and mode (medians reported)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS / "isolation_overhead.jsonl")
    args = ap.parse_args(argv)
    rows = [r for n in args.rows for r in measure(n, args.cols, args.trials, args.threads)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print("\n| rows | estimator | in process ms | isolated ms | overhead ms | + model ms "
          "| child start s | data send s | data MB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rows']:,} | {r['estimator']} | {r['in_process_ms']:.1f} | {r['isolated_ms']:.1f} "
              f"| {r['overhead_ms']:+.1f} | {r['model_transfer_ms']:+.1f} | {r['start_seconds']:.2f} "
              f"| {r['data_seconds']:.3f} | {r['data_mb']:.1f} |")
    print(f"\nappended to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
