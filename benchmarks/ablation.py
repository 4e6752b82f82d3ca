"""What each search feature brings: this project with one feature switched off at a time.

    python -m benchmarks.ablation --budget 20            # `make bench-ablation` (about 40 minutes)
    python -m benchmarks.ablation --budget 30 --variants full no-ensemble --datasets iris adult

Each variant runs through ``benchmarks.compare`` under its own label into one JSON-lines file
(``benchmarks/results/ablation_<budget>s.jsonl``), so the report normalises every variant against
the best variant on each dataset. ``before`` is the search as it was before issue 5: LightGBM and
CatBoost absent, defaults enqueued first, Optuna's median pruner, TPE choosing the framework,
no row subsampling (greedy ensemble selection already existed then).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from benchmarks import compare

#: Issue 5 added these: the variants without them run as if they were not installed.
NEW_FRAMEWORKS = ["lightgbm", "catboost"]
VARIANTS: dict[str, dict] = {
    "full": {},
    "before": {"uninstalled": NEW_FRAMEWORKS, "portfolio": False, "pruner": "median",
               "allocation": "sampler", "subsample": False},
    "no-portfolio": {"portfolio": False},
    "no-ensemble": {"ensemble": False},
    "median-pruner": {"pruner": "median"},
    "tpe-allocation": {"allocation": "sampler"},
    "no-boosters": {"uninstalled": NEW_FRAMEWORKS},
    "no-subsample": {"subsample": False},
    "no-cv-repeats": {"cv_repeats": 1},
    # Medium data validated on the holdout instead of k-fold bags.
    "no-bagging": {"bagging": False},
    # Small data refitted on all rows instead of averaging the cross-validation's fold models.
    "small-refit": {"bagging": "medium"},
    # Small data's ensemble weights from one greedy pass instead of averaged over bootstrap samples.
    "greedy-selection": {"selection": "greedy"},
    # Small data's ensemble selection on the repeats' out-of-fold predictions side by side instead of averaged.
    "pooled-rows": {"selection_rows": "pooled"},
}
#: Row subsampling only acts on large data: its variant runs on the suite's large datasets.
SUBSAMPLE_DATASETS = ["adult", "diamonds", "california_houses"]
#: Repeated cross-validation only acts on data up to 1,000 rows.
SMALL_DATASETS = ["iris", "breast_cancer", "diabetes", "penguins", "hitters", "credit_g"]
#: Cross-validation (hence small-refit) acts on data up to 10,000 rows.
CV_DATASETS = [*SMALL_DATASETS, "geographical_music", "mfeat_factors", "sick", "phoneme"]
#: k-fold bags in place of the holdout act on 10,000 to 200,000 rows.
BAGGED_DATASETS = ["adult", "california_houses", "diamonds"]


def deltas(path) -> str:
    """Per variant: its mean normalised score next to ``full``'s on the same datasets."""
    df, _, _ = compare.summarise(compare.load_rows(path))
    wide = df.pivot_table(index=["budget", "dataset"], columns="system", values="norm")
    lines = ["| variant | datasets | mean normalised | full on the same | difference | time promise kept |",
             "|---|---|---|---|---|---|"]
    kept = df.groupby("system")["promise"].agg(["sum", "count"])
    for name in wide.columns:
        ref = wide["full"] if "full" in wide.columns else pd.Series(float("nan"), index=wide.index)
        both = pd.DataFrame({"v": wide[name], "full": ref}).dropna(subset=["v"])
        mine, full = both["v"].mean(), both["full"].mean()
        lines.append(f"| {name} | {len(both)} | {mine:.4f} | {full:.4f} | {mine - full:+.4f} "
                     f"| {int(kept.loc[name, 'sum'])}/{int(kept.loc[name, 'count'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=20.0)
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--datasets", nargs="*")
    ap.add_argument("--splits", nargs="+", type=int, default=[0],
                    help="outer splits (benchmarks.compare --splits): 0 is the suite's own")
    ap.add_argument("--suite", default=str(compare.DEFAULT_SUITE))
    ap.add_argument("--report", action="store_true", help="only print the table of the existing results")
    ap.add_argument("--out", help="JSON-lines file (default benchmarks/results/ablation_<budget>s.jsonl)")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else compare.RESULTS / f"ablation_{args.budget:g}s.jsonl"
    if args.report:
        print(deltas(out))
        return 0
    for name in args.variants:
        datasets = args.datasets or {
            "no-subsample": SUBSAMPLE_DATASETS, "no-cv-repeats": SMALL_DATASETS, "small-refit": CV_DATASETS,
            "no-bagging": BAGGED_DATASETS, "greedy-selection": SMALL_DATASETS, "pooled-rows": SMALL_DATASETS,
        }.get(name)
        argv_ = ["--budgets", str(args.budget), "--systems", "automl", "--label", name, "--suite", args.suite,
                 "--automl-options", json.dumps(VARIANTS[name]), "--out", str(out)]
        if datasets:
            argv_ += ["--datasets", *datasets]
        if args.splits != [0]:
            argv_ += ["--splits", *map(str, args.splits)]
        compare.main(argv_)
    table = deltas(out)
    out.with_name(out.stem + "_deltas.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
