"""The trials a seeded, reproducible search runs on a dev-suite dataset, and one hash of them.

A refactor that claims "behaviour unchanged" runs this at both commits and compares the hashes::

    git worktree add /tmp/before <commit>
    (cd /tmp/before && PYTHONPATH=. ../path/to/.venv/bin/python -m benchmarks.trials_fingerprint credit_g)
    python -m benchmarks.trials_fingerprint credit_g

The search follows the reproducibility recipe of ``automl.fit`` (``n_jobs=1``, a fixed ``n_trials``,
``allocation="sampler"``): with the default cost-aware allocation the framework of a later trial
depends on measured seconds, so two runs at a time budget may differ without any change of code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from benchmarks._suite import load_split, read_manifest

DEV_SUITE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "dev"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="a dev-suite dataset name, e.g. credit_g")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--suite", type=Path, default=DEV_SUITE)
    args = ap.parse_args(argv)

    import automl

    entry = next((e for e in read_manifest(args.suite) if e["name"] == args.dataset), None)
    if entry is None:
        ap.error(f"dataset {args.dataset!r} is not in {args.suite / 'manifest.json'}")
    train, _ = load_split(entry, args.suite)
    result = automl.fit(
        train, entry["target"], task=entry["task"], time_budget=10 * args.trials + 60, seed=args.seed, n_jobs=1,
        n_trials=args.trials, verbosity=0, search_options={"allocation": "sampler"},
    )
    board = result.leaderboard.sort_values("trial")
    rows = [[int(t), f, m, None if s != s else round(float(s), 6)] for t, f, m, s in
            board[["trial", "framework", "model", "score"]].itertuples(index=False)]
    for row in rows:
        print(*row, sep="\t")
    members = [[m["trial"], m["weight"]] for m in result.ensemble]
    print("ensemble:", members or "none")
    digest = hashlib.sha256(json.dumps([rows, members]).encode()).hexdigest()[:16]
    print(f"fingerprint {args.dataset} seed={args.seed} trials={args.trials}: {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
