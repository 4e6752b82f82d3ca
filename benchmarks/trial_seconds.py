"""Where a search's trial seconds go: one ``automl.fit`` on a dev-suite dataset, its trials grouped by
framework and model family (issue 20: do the networks use their time well?).

The fit is the benchmarks' own (the suite's 75/25 split, seed 0, ``n_jobs=-1``, ensembles on). Per
(framework, family) the table gives the trials, their summed seconds, the mean number of folds each
fitted (small data: 15, 5-fold cross-validation drawn 3 times), how many its deadline cut short
(``truncated``: such a trial never reaches ensemble selection) or fitted a network's schedule to its
deadline (``shortened``), and the best validation value (higher is better). The final model's
account (``result.refit``) and the ensemble's members come after it. Writes the per-trial rows to
``benchmarks/results/trial_seconds_<dataset>_<budget>s.csv`` and the printed report beside it (``.md``).

    python -m benchmarks.trial_seconds --dataset diabetes --budget 300
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import pandas as pd

from benchmarks._suite import load_split, read_manifest
from benchmarks.compare import DEFAULT_SUITE, RESULTS, ROOT


def trial_rows(result: object) -> pd.DataFrame:
    """One row per trial of ``result.study``: framework, family, state, folds, flags and seconds."""
    rows = []
    for t in result.study.trials:  # type: ignore[attr-defined]
        a = t.user_attrs
        rows.append({"trial": t.number, "framework": t.params.get("framework"), "family": a.get("family"),
                     "state": t.state.name, "folds": a.get("folds"), "truncated": bool(a.get("truncated", False)),
                     "shortened": bool(a.get("shortened", False)), "fit_seconds": a.get("fit_seconds"),
                     "fold_seconds": a.get("fold_seconds"), "value": t.value})
    return pd.DataFrame(rows)


def by_family(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-(framework, family) table, the costliest first."""
    table = rows.groupby(["framework", "family"]).agg(
        trials=("trial", "count"), seconds=("fit_seconds", "sum"), folds_mean=("folds", "mean"),
        truncated=("truncated", "sum"), shortened=("shortened", "sum"), best=("value", "max"),
    )
    return table.sort_values("seconds", ascending=False).round(3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="a name from the suite's manifest")
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    args = ap.parse_args(argv)
    import automl

    entry = next((e for e in read_manifest(args.suite) if e["name"] == args.dataset), None)
    if entry is None:
        raise SystemExit(f"--dataset {args.dataset!r} is not in {args.suite / 'manifest.json'}")
    train, _ = load_split(entry, args.suite)
    started = time.monotonic()
    result = automl.fit(train, entry["target"], task=entry["task"], time_budget=args.budget, seed=0, n_jobs=-1,
                        verbosity=0)
    wall = time.monotonic() - started
    rows = trial_rows(result)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    report = "\n".join([
        f"Command: python -m benchmarks.trial_seconds --dataset {args.dataset} --budget {args.budget:g} "
        f"(at {commit})", "",
        f"- wall {wall:.1f} s; final model: {result.refit}",  # type: ignore[attr-defined]
        "- ensemble: " + ", ".join(f"{m['framework']}/{m['model']} {m['weight']}"
                                   for m in (result.ensemble or [])),  # type: ignore[attr-defined]
        "", "```", by_family(rows).to_string(), "```", "",
    ])
    out = RESULTS / f"trial_seconds_{args.dataset}_{args.budget:g}s.csv"
    rows.to_csv(out, index=False)
    out.with_suffix(".md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
