"""Do the networks keep their deadline? Each network family fitted as one trial under a tight deadline (issue 20).

Issue 20 promises that a network trial never overruns its deadline by more than 1 s. A trial here is
what the search runs: the family's default configuration, built by its adapter, fitted by
:func:`automl.search._folds.fit_folds` on the search's own splits (the holdout, or 5-fold bags
on 10k-200k rows) under ``--deadlines`` seconds, its validation rows predicted inside the same
deadline. The framework is imported and warmed up before the clock starts, as in the search (a
trial's deadline starts after its framework is loaded). Per (dataset, framework, family, resampling,
deadline) the report gives the trial's seconds, the overrun past the deadline (negative: it stopped
early), the folds fitted and whether it was truncated.

    python -m benchmarks.deadlines                                  # torch and Keras families
    KERAS_BACKEND=tensorflow python -m benchmarks.deadlines --frameworks keras
    python -m benchmarks.deadlines --report benchmarks/results/deadlines.jsonl

Keras runs on the process's backend (``KERAS_BACKEND``, written as ``backend`` in each row), so one
invocation per backend measures them all; ``make bench-deadlines`` runs torch and each Keras backend.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks._suite import load_split, read_manifest
from benchmarks.dev_suite import DEFAULT_SUITE, RESULTS

FAMILIES = {"torch": ("realmlp", "tabm", "mlp"), "keras": ("realmlp", "mlp")}
DATASETS = ("mfeat_factors", "california_houses")
#: The promise of issue 20: a network trial stops within this many seconds of its deadline.
TOLERANCE_S = 1.0


def _backend(framework: str) -> str:
    if framework != "keras":
        return "-"
    from search_spaces.keras_adapter import keras_backend_in_use

    return keras_backend_in_use()


def measure(
    framework: str, family: str, train: pd.DataFrame, target: str, deadline_s: float, bagged: bool
) -> dict[str, Any]:
    """One trial of ``family``'s default configuration under ``deadline_s`` seconds."""
    import numpy as np

    from automl.metrics import resolve_metric
    from automl.search._folds import fit_folds
    from automl.search._resampling import bagged_resampling, make_resampling
    from recommender import profile_dataset
    from search_spaces import get_adapter

    profile = profile_dataset(train, target)
    spec = profile.feature_spec()
    classification = spec.is_classification
    X, y = train[list(spec.columns)], train[target]
    resampling = bagged_resampling(y, classification, 0, 5) if bagged else make_resampling(y, classification, 0)
    if not bagged:  # one split: the holdout, or the first fold of small data's cross-validation
        resampling = type(resampling)(resampling.kind, resampling.splits[:1], resampling.stratified)
    adapter = get_adapter(framework)
    config = next(c for c in adapter.default_configs(spec) if c.family == family)
    estimator = adapter.build(config, spec, seed=0, n_jobs=1)
    metric = resolve_metric(None, spec.task)
    classes = np.unique(y) if classification else None
    started = time.monotonic()
    result = fit_folds(
        estimator, X, y, resampling.splits, metric.scorer(), deadline=started + deadline_s, report=None,
        n_threads=1, classes=classes, keep_oof=True, metric_name=metric.name, keep_models=bagged,
    )
    seconds = time.monotonic() - started
    return {
        "framework": framework, "backend": _backend(framework), "family": family,
        "resampling": "5-fold bags" if bagged else resampling.kind, "deadline_s": deadline_s,
        "seconds": round(seconds, 2), "overrun_s": round(seconds - deadline_s, 2),
        "folds": len(result.scores), "truncated": bool(result.truncated),
        "score": round(metric.display(result.value), 5), "metric": metric.display_name,
    }


def _warm_up(framework: str, train: pd.DataFrame, target: str) -> None:
    """Import the framework and trace its first model outside the clock (the search loads it before a trial starts)."""
    small = train.sample(min(len(train), 200), random_state=0)
    for family in FAMILIES[framework][:1]:
        measure(framework, family, small, target, 2.0, bagged=False)


def render(path: Path) -> str:
    """The Markdown report of a JSON-lines file written by :func:`main`."""
    rows = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])
    cols = ["dataset", "framework", "backend", "family", "resampling", "deadline_s", "seconds", "overrun_s",
            "folds", "truncated"]
    worst = rows["overrun_s"].max()
    kept = int((rows["overrun_s"] <= TOLERANCE_S).sum())
    lines = [
        f"# Network trials against their deadline ({path.name})", "",
        f"Within {TOLERANCE_S:g} s of the deadline: **{kept} of {len(rows)}** trials; worst overrun "
        f"**{worst:+.2f} s**.", "",
        "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols),
        *("| " + " | ".join(str(r[c]) for c in cols) + " |" for _, r in rows.iterrows()), "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frameworks", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), help="names from the suite's manifest")
    ap.add_argument("--deadlines", nargs="+", type=float, default=[3.0, 10.0], help="trial deadlines in seconds")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--out", type=Path, default=RESULTS / "deadlines.jsonl")
    ap.add_argument("--report", type=Path, help="only re-render the report of an existing JSON-lines file")
    args = ap.parse_args(argv)
    if args.report:
        print(render(args.report))
        return 0
    entries = {e["name"]: e for e in read_manifest(args.suite)}
    unknown = sorted(set(args.datasets) - set(entries))
    if unknown:
        ap.error(f"unknown datasets {unknown}; the manifest has {sorted(entries)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from benchmarks.compare import source_commit
    from recommender import keras_backends

    keras_backends.apply("auto")  # KERAS_BACKEND when set, else the fastest measured here (as the search)
    version = source_commit()
    for name in args.datasets:
        entry = entries[name]
        train, _ = load_split(entry, args.suite)
        target = entry["target"]
        for framework in args.frameworks:
            _warm_up(framework, train, target)
            for family in FAMILIES[framework]:
                for bagged in (False, True) if len(train) >= 10_000 else (False,):
                    for deadline_s in args.deadlines:
                        row = {"dataset": name, "rows": len(train), "commit": version,
                               **measure(framework, family, train, target, deadline_s, bagged)}
                        print(json.dumps(row), flush=True)
                        with args.out.open("a") as f:
                            f.write(json.dumps(row) + "\n")
    print(render(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
