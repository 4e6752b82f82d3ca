"""What one network fit costs: each family's default configuration fitted once, without a deadline.

Per dataset (the suite's 75/25 split, see ``_suite``) and per ``framework/family``: the default
configuration the search queues first, fitted on the training split (the estimator keeps its own
validation split for early stopping) on one thread, then scored on the test split. Prints and
writes the CPU seconds (every thread of the process), the wall seconds and the test metric, with
the commit, to ``benchmarks/results/network_fit_seconds.jsonl`` (one JSON object per fit; rows
of several commits gather there) and the table of the last invocation to its ``.md``.

    python -m benchmarks.network_fit_seconds --datasets diabetes penguins credit_g
    python -m benchmarks.network_fit_seconds --datasets diabetes --folds 5   # a trial's folds in turn

Issue 20: the Keras RealMLP took about 8 s a fold on diabetes where torch's took 0.1 s, because a
Keras epoch of one batch costs far more than the step itself (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from benchmarks._suite import MAIN_METRIC, load_split, read_manifest, score
from benchmarks.compare import DEFAULT_SUITE, RESULTS, source_commit

DEFAULT_MODELS = ("keras/realmlp", "keras/mlp", "torch/realmlp", "torch/mlp")


def fit_once(
    model_name: str, train: pd.DataFrame, test: pd.DataFrame, target: str, task: str, folds: int = 1
) -> dict:
    """CPU and wall seconds of ``model_name``'s default configuration fitted on the training rows
    (``folds`` > 1: on each of k folds' training rows in turn, as a trial's folds are), and the test
    metric of the first fit."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    from recommender import profile_dataset
    from search_spaces import get_adapter

    framework, family = model_name.split("/")
    adapter = get_adapter(framework)
    spec = profile_dataset(train, target).feature_spec()
    config = next((c for c in adapter.default_configs(spec) if c.family == family), None)
    if config is None:
        raise SystemExit(f"{framework} has no default configuration of family {family!r}")
    rows = [train.index] if folds <= 1 else [train.index[tr] for tr, _ in KFold(folds, shuffle=True,
                                                                                  random_state=0).split(train)]
    template = adapter.build(config, spec, seed=0, n_jobs=1)
    cpu, wall = time.process_time(), time.perf_counter()
    fitted = [clone(template).fit(train.loc[r, list(spec.columns)], train.loc[r, target]) for r in rows]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    model = fitted[0]
    X, y = test[list(spec.columns)], test[target]
    if task == "regression":
        metrics = score(task, y, model.predict(X), None, None)
    else:
        metrics = score(task, y.astype(str), None, model.predict_proba(X), [str(c) for c in model.classes_])
    metric = MAIN_METRIC[task]
    return {"model": model_name, "folds": max(folds, 1), "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2),
            "metric": metric, "value": round(metrics[metric], 6)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["diabetes"], help="names from the suite's manifest")
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="framework/family pairs")
    ap.add_argument("--folds", type=int, default=1, help="fit on each of k folds' training rows (seconds summed)")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--out", type=Path, default=RESULTS / "network_fit_seconds.jsonl")
    args = ap.parse_args(argv)
    entries = {e["name"]: e for e in read_manifest(args.suite)}
    unknown = [d for d in args.datasets if d not in entries]
    if unknown:
        ap.error(f"unknown dataset(s) {unknown}; the suite has {sorted(entries)}")
    commit = source_commit()
    rows = []
    for name in args.datasets:
        entry = entries[name]
        train, test = load_split(entry, args.suite)
        for model_name in args.models:
            row = {"dataset": name, "rows": len(train), "commit": commit,
                   **fit_once(model_name, train, test, entry["target"], entry["task"], args.folds)}
            print(json.dumps(row), flush=True)
            rows.append(row)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
    table = pd.DataFrame(rows).set_index(["dataset", "model"])
    report = "\n".join([
        f"Command: python -m benchmarks.network_fit_seconds --datasets {' '.join(args.datasets)} "
        f"--models {' '.join(args.models)} --folds {args.folds} (at {commit})", "", "```", table.to_string(), "```", "",
    ])
    args.out.with_suffix(".md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
