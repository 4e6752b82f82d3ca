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
    # after a change that only the networks see: rerun 'automl' against the no-networks runs kept
    python -m benchmarks.networks_value --budget 300 --variants automl --datasets hitters diabetes

One seed's difference on one dataset is mostly noise (a 250-row test set, a search that draws
frameworks at random), so ``--seed N`` repeats the invocation with another search seed into
``networks_value_<budget>s_seed<N>.jsonl``, and ``--combine`` reports several such files together:
each dataset's difference averaged over the seeds, and the mean over datasets with a 90% bootstrap
interval (datasets resampled; the seeds of a dataset stay together):

    python -m benchmarks.networks_value --budget 60 --seed 1
    python -m benchmarks.networks_value --combine benchmarks/results/networks_value_60s.jsonl \
        benchmarks/results/networks_value_60s_seed1.jsonl
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


def network_seconds_share(row: pd.Series) -> float | None:
    """The networks' share of the search's trial seconds (None for rows written before it was recorded)."""
    seconds = row.get("seconds_by_framework")
    if not isinstance(seconds, dict) or not sum(seconds.values()):
        return None
    return float(sum(v for k, v in seconds.items() if k in NETWORKS) / sum(seconds.values()))


def _share(row: pd.Series | None) -> str:
    share = None if row is None else network_seconds_share(row)
    return "–" if share is None else f"{share:.0%}"


def _commits(g: pd.DataFrame) -> str:
    """Each variant's commit(s) and their datasets: after ``--variants``, the two may differ."""
    g = g.assign(commit=g.get("commit", "?")).fillna({"commit": "?"})
    return "; ".join(
        f"{system} at " + ", ".join(f"{c} ({', '.join(sorted(d.dataset.unique()))})" for c, d in rows.groupby("commit"))
        for system, rows in g.groupby("system")
    )


def render(path: Path) -> str:
    """The Markdown report of a JSON-lines file written by :func:`main`."""
    df = compare.load_rows(path)
    table, _, _ = compare.summarise(df)
    lines = []
    for budget, g in table.groupby("budget"):
        wide = g.pivot(index="dataset", columns="system", values="norm")
        runs = g.set_index(["dataset", "system"])
        lines += [f"## {budget:g} s budget", "",
                  "| dataset | with networks | without | difference | network in final model | network trials "
                  "| network share of trial seconds |",
                  "|---|---:|---:|---:|---|---:|---:|"]
        members = 0
        for dataset in wide.index:
            with_nets = runs.loc[(dataset, "automl")] if (dataset, "automl") in runs.index else None
            a, b = wide.loc[dataset].get("automl", np.nan), wide.loc[dataset].get("no-networks", np.nan)
            inside = with_nets is not None and network_in_final_model(with_nets)
            members += inside
            n_net = network_trials(with_nets) if with_nets is not None else 0
            lines.append(f"| {dataset} | {a:.4f} | {b:.4f} | {a - b:+.4f} | {'yes' if inside else 'no'} | {n_net} "
                         f"| {_share(with_nets)} |")
        mean = wide.mean()
        promise = g.groupby("system")["promise"].agg(["sum", "count"])
        lines += ["", f"- mean normalised score: with networks {mean.get('automl', np.nan):.4f}, "
                      f"without {mean.get('no-networks', np.nan):.4f} "
                      f"({mean.get('automl', np.nan) - mean.get('no-networks', np.nan):+.4f})",
                  f"- a network is part of the final model on {members} of {len(wide)} datasets",
                  "- time promise kept: " + ", ".join(
                      f"{s} {int(r['sum'])}/{int(r['count'])}" for s, r in promise.iterrows()),
                  "- at commit(s): " + _commits(g), ""]
    return "\n".join(lines)


def bootstrap_mean(values: np.ndarray, level: float = 0.9, n: int = 4000, seed: int = 0) -> tuple[float, float]:
    """The ``level`` bootstrap interval of the mean of ``values`` (one value per dataset)."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n, len(values)))].mean(axis=1)
    return float(np.quantile(means, (1 - level) / 2)), float(np.quantile(means, (1 + level) / 2))


def combine(paths: list[Path]) -> str:
    """Several seeds' files together: per dataset the mean difference over seeds, then the mean over
    datasets with its bootstrap interval, and how often a network is in the final model."""
    diffs, inside, promise = [], [], []
    for path in paths:
        table, _, _ = compare.summarise(compare.load_rows(path))
        for budget, g in table.groupby("budget"):
            wide = g.pivot(index="dataset", columns="system", values="norm")
            for dataset, row in wide.iterrows():
                diffs.append({"budget": budget, "dataset": dataset, "file": path.name,
                              "with": row.get("automl", np.nan), "without": row.get("no-networks", np.nan)})
            for _, r in g.iterrows():
                promise.append(bool(r["promise"]))
                if r["system"] == "automl":
                    inside.append({"budget": budget, "dataset": r["dataset"], "inside": network_in_final_model(r)})
    df = pd.DataFrame(diffs)
    df["difference"] = df["with"] - df["without"]
    members = pd.DataFrame(inside)
    lines = [f"Files: {', '.join(p.name for p in paths)}", ""]
    for budget, g in df.groupby("budget"):
        per = g.groupby("dataset").agg(seeds=("file", "count"), with_=("with", "mean"),
                                       without=("without", "mean"), difference=("difference", "mean"))
        m = members[members.budget == budget].groupby("dataset")["inside"].agg(["sum", "count"])
        lines += [f"## {budget:g} s budget, {int(per.seeds.max())} seed(s)", "",
                  "| dataset | seeds | with networks | without | mean difference | network in final model |",
                  "|---|---:|---:|---:|---:|---:|"]
        for dataset, r in per.iterrows():
            k = m.loc[dataset] if dataset in m.index else {"sum": 0, "count": 0}
            lines.append(f"| {dataset} | {int(r.seeds)} | {r.with_:.4f} | {r.without:.4f} | {r.difference:+.4f} "
                         f"| {int(k['sum'])}/{int(k['count'])} |")
        lo, hi = bootstrap_mean(per.difference.to_numpy(float))
        often = int((m["sum"] >= m["count"] / 2).sum())
        lines += ["", f"- mean normalised score: with networks {per.with_.mean():.4f}, "
                      f"without {per.without.mean():.4f}; "
                      f"difference {per.difference.mean():+.4f}, 90% interval [{lo:+.4f}, {hi:+.4f}] "
                      f"over {len(per)} datasets",
                  f"- a network is in the final model in {int(m['sum'].sum())} of {int(m['count'].sum())} runs; "
                  f"in at least half the seeds' final model on {often} of {len(m)} datasets", ""]
    lines.append(f"- time promise kept: {sum(promise)}/{len(promise)} runs")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--datasets", nargs="*", help="names from the suite's manifest (default: all)")
    ap.add_argument("--suite", type=Path, default=compare.DEFAULT_SUITE)
    ap.add_argument("--out", type=Path, help="JSON-lines file (default: results/networks_value_<budget>s.jsonl)")
    ap.add_argument("--report", type=Path, help="only re-render the report of an existing JSON-lines file")
    ap.add_argument("--resume", action="store_true", help="skip runs already in --out at the same code")
    ap.add_argument("--seed", type=int, default=0, help="the search seed of both variants (default 0)")
    ap.add_argument("--combine", type=Path, nargs="+", help="only report several seeds' JSON-lines files together")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                    help="run only these (default both): after a change to the networks alone, 'automl' "
                         "reruns against the no-networks runs already in --out")
    args = ap.parse_args(argv)
    if args.report:
        print(render(args.report))
        return 0
    if args.combine:
        print(combine(args.combine))
        return 0
    suffix = f"_seed{args.seed}" if args.seed else ""
    out = args.out or compare.RESULTS / f"networks_value_{args.budget:g}s{suffix}.jsonl"
    common = ["--budgets", str(args.budget), "--systems", "automl", "--suite", str(args.suite), "--out", str(out),
              "--seed", str(args.seed)]
    if args.datasets:
        common += ["--datasets", *args.datasets]
    if args.resume:
        common.append("--resume")
    for label in args.variants:
        compare.main([*common, "--label", label, "--automl-options", VARIANTS[label]])
    report = render(out)
    seed = f" --seed {args.seed}" if args.seed else ""
    datasets = f" --datasets {' '.join(args.datasets)}" if args.datasets else ""
    variants = f" --variants {' '.join(args.variants)}" if args.variants != list(VARIANTS) else ""
    command = f"python -m benchmarks.networks_value --budget {args.budget:g}{seed}{datasets}{variants}"
    out.with_suffix(".md").write_text(f"Command: {command}\n\n" + report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
