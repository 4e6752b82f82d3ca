"""AutoGluon's own leaderboard on a suite dataset's test split: which of its models win, and at which
stack level. Runs in the peers' AutoGluon environment (``make peers``), not in this project's:

    .venv-peers/autogluon/bin/python -m benchmarks.peer_leaderboard --dataset hitters --seed 2

Writes ``benchmarks/results/<dataset>_autogluon_<preset>_leaderboard.txt`` (and prints it). Like
``benchmarks._suite``, it imports nothing of this project but the split convention.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks._suite import load_split, read_manifest
from benchmarks.compare import DEFAULT_SUITE, ROOT


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--seed", type=int, default=0, help="AutoGluon's learner random_state (its fold partitions)")
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--preset", default="best_quality")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--rows", type=int, default=40, help="leaderboard rows to keep")
    args = ap.parse_args(argv)
    from autogluon.tabular import TabularPredictor

    entry = next((e for e in read_manifest(args.suite) if e["name"] == args.dataset), None)
    if entry is None:
        ap.error(f"--dataset {args.dataset!r} is not in {args.suite / 'manifest.json'}")
    train, test = load_split(entry, args.suite)
    with tempfile.TemporaryDirectory() as path:
        predictor = TabularPredictor(label=entry["target"], problem_type=entry["task"], path=path, verbosity=0,
                                     learner_kwargs={"random_state": args.seed})
        predictor.fit(train, time_limit=args.budget, presets=args.preset)
        board = predictor.leaderboard(test, extra_info=False)
    columns = ["model", "score_test", "score_val", "stack_level", "fit_time"]
    with pd.option_context("display.width", 200):
        table = board[columns].head(args.rows).to_string()
    text = (f"Command: python -m benchmarks.peer_leaderboard --dataset {args.dataset} --seed {args.seed} "
            f"--budget {args.budget:g} --preset {args.preset} (AutoGluon's scores: higher is better, so "
            f"errors are negative)\n\n{table}\n")
    out = ROOT / "benchmarks" / "results" / f"{args.dataset}_autogluon_{args.preset}_leaderboard.txt"
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
