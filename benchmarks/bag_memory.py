"""How much memory a k-fold bag's models hold on medium data, against the bound the search keeps (issue 21).

On 10,000 to 200,000 rows every trial can be a 5-fold bag whose fold models are kept
(:mod:`automl.search._bagging`), and the kept bags may hold at most
:data:`automl.search._best.BAG_MEMORY_SHARE` of the memory available, one bag at most half of that.
For each medium dev-suite dataset this fits one fold (4/5 of the benchmark split's training rows,
a 5-fold bag's fold) of each framework's default configurations, and of the largest forests the
search space allows (500 fully grown trees), and reports the model's size as the search measures
it (:func:`automl.search._folds.model_bytes`: pickled, arrays counted), the bag's (x 5), and whether
this machine's bound would keep that bag.

    python -m benchmarks.bag_memory [--datasets adult diamonds] [--out benchmarks/results/bag_memory.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks._suite import load_split, read_manifest
from benchmarks.dev_suite import DEFAULT_SUITE, RESULTS

DATASETS = ("adult", "diamonds", "california_houses")
FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "catboost")
FOLDS = 5
#: The search space's largest forests: the most trees, every leaf one row.
LARGEST_FORESTS = {"n_estimators": 500, "min_samples_leaf": 1}


def configs(adapter: Any, spec: Any) -> list[Any]:
    """The adapter's default configurations, and for scikit-learn its largest forests too."""
    from search_spaces import Config

    found = list(adapter.default_configs(spec))
    if adapter.name == "sklearn":
        for family, max_features in (("rf", 0.5), ("extra_trees", 1.0)):
            params = {"max_features": max_features, **LARGEST_FORESTS}
            if spec.is_classification:
                params["class_weight"] = "none"
            found.append(Config("sklearn", family, params))
    return found


def measure(entry: dict[str, Any], suite: Path, frameworks: tuple[str, ...]) -> list[dict[str, Any]]:
    from automl.search._best import bag_memory_limit
    from automl.search._folds import model_bytes
    from recommender.profile import profile_dataset
    from search_spaces import get_adapter

    train, _ = load_split(entry, suite)
    fold = train.sample(frac=(FOLDS - 1) / FOLDS, random_state=0).reset_index(drop=True)
    target = entry["target"]
    spec = profile_dataset(fold, target).feature_spec()
    X, y = fold.drop(columns=[target]), fold[target]
    one_bag = bag_memory_limit(None) / 2
    rows = []
    for name in frameworks:
        adapter = get_adapter(name)
        if not adapter.is_installed():
            continue
        for config in configs(adapter, spec):
            model = adapter.build(config, spec, seed=0, n_jobs=2)
            started = time.monotonic()
            model.fit(X, y)
            size = model_bytes(model)
            row = {"dataset": entry["name"], "fold_rows": len(fold), "framework": name, "family": config.family,
                   "params": config.params, "fit_s": round(time.monotonic() - started, 2),
                   "model_mb": round(size / 2**20, 1), "bag_mb": round(FOLDS * size / 2**20, 1),
                   "one_bag_limit_mb": round(one_bag / 2**20), "kept": FOLDS * size <= one_bag}
            print(f"{row['dataset']:<18} {name:<9} {config.family:<12} fit {row['fit_s']:>6.1f}s  model "
                  f"{row['model_mb']:>8.1f} MB  bag {row['bag_mb']:>8.1f} MB  "
                  f"{'kept' if row['kept'] else 'not kept'} (one bag <= {row['one_bag_limit_mb']} MB)", flush=True)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS))
    ap.add_argument("--out", type=Path, default=RESULTS / "bag_memory.jsonl")
    args = ap.parse_args(argv)
    entries = [e for e in read_manifest(args.suite) if e["name"] in args.datasets]
    rows = [r for e in entries for r in measure(e, args.suite, tuple(args.frameworks))]
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
