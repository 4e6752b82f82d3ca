"""Do the networks earn their place? This project with and without them, same invocation (issue 20).

For each dataset of the suite the driver of :mod:`benchmarks.compare` runs this project twice, in
fresh processes, one after the other: ``automl`` (the default search: the recommender decides
whether the Keras and PyTorch networks join it) and ``no-networks`` (the same search as it would run
with Keras and PyTorch not installed). Both append to one JSON-lines file; the report gives

- the mean normalised holdout score of each variant (normalised as in ``benchmarks.compare``:
  ``(s - constant) / (best of the two - constant)``) and the per-dataset difference;
- on how many datasets a network is part of the final model (the best single model, or a member of
  the winning ensemble), and how many network trials ran;
- whether each run kept the time promise (wall <= budget x 1.05 + 5 s).

    python -m benchmarks.networks_value --budget 60                  # the dev suite (2 x 13 runs)
    python -m benchmarks.networks_value --budget 60 --datasets iris hitters
    python -m benchmarks.networks_value --report benchmarks/results/networks_value_60s.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import compare

NETWORKS = ("keras", "torch", "autokeras")
VARIANTS = {"automl": "{}", "no-networks": json.dumps({"uninstalled": list(NETWORKS)})}


def network_in_final_model(row: pd.Series) -> bool:
    """A network is the best single model or a member of the winning ensemble."""
    members = row.get("ensemble")
    if isinstance(members, list) and members:
        return any(str(m).split("/")[0] in NETWORKS for m in members)
    return str(row.get("best")) in NETWORKS


def network_trials(row: pd.Series) -> int:
    counts = row.get("trials_by_framework")
    if not isinstance(counts, dict):
        return 0
    return int(sum(v for k, v in counts.items() if k in NETWORKS))


def render(path: Path) -> str:
    """The Markdown report of a JSON-lines file written by :func:`main`."""
    df = compare.load_rows(path)
    table, _, _ = compare.summarise(df)
    lines = []
    for budget, g in table.groupby("budget"):
        wide = g.pivot(index="dataset", columns="system", values="norm")
        runs = g.set_index(["dataset", "system"])
        lines += [f"## {budget:g} s budget", "",
                  "| dataset | with networks | without | difference | network in final model | network trials |",
                  "|---|---:|---:|---:|---|---:|"]
        members = 0
        for dataset in wide.index:
            with_nets = runs.loc[(dataset, "automl")] if (dataset, "automl") in runs.index else None
            a, b = wide.loc[dataset].get("automl", np.nan), wide.loc[dataset].get("no-networks", np.nan)
            inside = with_nets is not None and network_in_final_model(with_nets)
            members += inside
            n_net = network_trials(with_nets) if with_nets is not None else 0
            lines.append(f"| {dataset} | {a:.4f} | {b:.4f} | {a - b:+.4f} | {'yes' if inside else 'no'} | {n_net} |")
        mean = wide.mean()
        promise = g.groupby("system")["promise"].agg(["sum", "count"])
        lines += ["", f"- mean normalised score: with networks {mean.get('automl', np.nan):.4f}, "
                      f"without {mean.get('no-networks', np.nan):.4f} "
                      f"({mean.get('automl', np.nan) - mean.get('no-networks', np.nan):+.4f})",
                  f"- a network is part of the final model on {members} of {len(wide)} datasets",
                  "- time promise kept: " + ", ".join(
                      f"{s} {int(r['sum'])}/{int(r['count'])}" for s, r in promise.iterrows()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--datasets", nargs="*", help="names from the suite's manifest (default: all)")
    ap.add_argument("--suite", type=Path, default=compare.DEFAULT_SUITE)
    ap.add_argument("--out", type=Path, help="JSON-lines file (default: results/networks_value_<budget>s.jsonl)")
    ap.add_argument("--report", type=Path, help="only re-render the report of an existing JSON-lines file")
    ap.add_argument("--resume", action="store_true", help="skip runs already in --out at the same code")
    args = ap.parse_args(argv)
    if args.report:
        print(render(args.report))
        return 0
    out = args.out or compare.RESULTS / f"networks_value_{args.budget:g}s.jsonl"
    common = ["--budgets", str(args.budget), "--systems", "automl", "--suite", str(args.suite), "--out", str(out)]
    if args.datasets:
        common += ["--datasets", *args.datasets]
    if args.resume:
        common.append("--resume")
    for label, options in VARIANTS.items():
        compare.main([*common, "--label", label, "--automl-options", options])
    report = render(out)
    out.with_suffix(".md").write_text(f"Command: python -m benchmarks.networks_value --budget {args.budget:g}\n\n"
                                      + report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
