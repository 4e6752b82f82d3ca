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

from benchmarks._suite import load_split, read_manifest, split_name
from benchmarks.compare import DEFAULT_SUITE, ROOT


def ensemble_weights(info: dict) -> dict[str, float]:
    """A weighted ensemble's member weights from AutoGluon's ``model_info`` (averaged over its children,
    one per fold when it is bagged); {} for a single model."""
    children = [c["model_weights"] for c in (info.get("children_info") or {}).values() if "model_weights" in c]
    members = {m for c in children for m in c}
    return {m: sum(float(c.get(m, 0.0)) for c in children) / len(children) for m in members}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--seed", type=int, default=0, help="AutoGluon's learner random_state (its fold partitions)")
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--preset", default="best_quality", help="'default': no preset, as compare's 'autogluon' runs")
    ap.add_argument("--split", type=int, default=0, help="the outer 75/25 split (see benchmarks._suite)")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--rows", type=int, default=40, help="leaderboard rows to keep")
    args = ap.parse_args(argv)
    from autogluon.tabular import TabularPredictor

    entry = next((e for e in read_manifest(args.suite) if e["name"] == args.dataset), None)
    if entry is None:
        ap.error(f"--dataset {args.dataset!r} is not in {args.suite / 'manifest.json'}")
    train, test = load_split(entry, args.suite, args.split)
    with tempfile.TemporaryDirectory() as path:
        predictor = TabularPredictor(label=entry["target"], problem_type=entry["task"], path=path, verbosity=0,
                                     learner_kwargs={"random_state": args.seed})
        presets = {} if args.preset == "default" else {"presets": args.preset}
        predictor.fit(train, time_limit=args.budget, **presets)
        ensemble = predictor.model_best
        weights = ensemble_weights(predictor.model_info(ensemble))
        board = predictor.leaderboard(test, extra_info=False)
    columns = ["model", "score_test", "score_val", "stack_level", "fit_time"]
    with pd.option_context("display.width", 200):
        table = board[columns].head(args.rows).to_string()
    members = ", ".join(f"{m} {w:.3f}" for m, w in sorted(weights.items(), key=lambda x: -x[1]))
    text = (f"Command: python -m benchmarks.peer_leaderboard --dataset {args.dataset} --seed {args.seed} "
            f"--budget {args.budget:g} --preset {args.preset} --split {args.split} (AutoGluon's scores: higher is "
            f"better, so errors are negative)\n\nFinal model {ensemble}: {members or 'a single model'}\n\n{table}\n")
    name = split_name(args.dataset, args.split).replace("@", "_")
    out = ROOT / "benchmarks" / "results" / f"{name}_autogluon_{args.preset}_leaderboard.txt"
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
