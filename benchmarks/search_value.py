"""The recommendation's value inside the search (issue 22): the final holdout score of three plans.

On the meta-dataset's datasets (the PMLB pool's planned order, a prefix of ``--datasets``) and at
each ``--budgets`` value, ``automl.fit`` runs three times on the benchmark split's training rows
(75/25, ``random_state=0``; one process, ``n_jobs=1``, seed 0, ensembles on), scored on the test rows:

- ``recommended``: the default search, its candidates and cost-aware allocation planned by the recommender;
- ``turns``: every installed framework, taking turns (``allocation="uniform"``): no recommendation;
- ``oracle``: the whole budget to the framework that won this dataset in the meta-dataset (its
  best normalised score at 10 s, in hindsight: the test rows it was judged on are these).

Per dataset the three test scores are normalised ``(s - constant) / (best of the three - constant)``
(clipped at 0). The **share of the gap closed** is ``(mean recommended - mean turns) / (mean oracle -
mean turns)``: 0% no better than frameworks taking turns, 100% as good as the oracle plan; with a
paired bootstrap 90% interval over datasets (2000 resamples, seed 0). Appends one JSON line per run
to ``benchmarks/results/search_value.jsonl`` (resumable: a (dataset, budget, plan) already there is
skipped) and writes the report beside it (``.md``).

    python -m benchmarks.search_value --datasets 12 --budgets 10        # about 7 minutes
    python -m benchmarks.search_value --datasets 40 --budgets 10 30     # the issue's run (about 1 h)
    python -m benchmarks.search_value --report                          # re-render only
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import _suite
from benchmarks.metadata import RUNS, load_split, plan_datasets
from benchmarks.portfolio import POOL, RESULTS

OUT = RESULTS / "search_value.jsonl"
PLANS = ("recommended", "turns", "oracle")
FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "catboost", "keras", "torch")
RESAMPLES, SEED = 2000, 0


def meta_winners(runs: Path = RUNS) -> dict[str, str]:
    """Each meta-dataset dataset's best framework by normalised test score (first on ties)."""
    best: dict[str, tuple[float, str]] = {}
    for line in runs.read_text().splitlines():
        r = json.loads(line)
        score = r.get("normalised_score")
        if score is not None and score > best.get(r["dataset"], (-1.0, ""))[0]:
            best[r["dataset"]] = (score, r["framework"])
    return {d: fw for d, (_, fw) in best.items()}


def plan_arguments(plan: str, oracle: str) -> dict[str, Any]:
    if plan == "recommended":
        return {}
    if plan == "turns":
        from search_spaces import get_adapter

        installed = [f for f in FRAMEWORKS if type(get_adapter(f)).is_installed()]
        return {"frameworks": installed, "search_options": {"allocation": "uniform"}}
    return {"frameworks": [oracle]}


def run_plan(train: pd.DataFrame, test: pd.DataFrame, task: str, budget: float, plan: str, oracle: str) -> dict:
    import automl

    started = time.monotonic()
    result = automl.fit(train, "target", task=task, time_budget=budget, seed=0, n_jobs=1, verbosity=0,
                        **plan_arguments(plan, oracle))
    wall = time.monotonic() - started
    features = test.drop(columns=["target"])
    if task == "regression":
        metrics = _suite.score(task, test["target"], result.predict(features), None, None)
    else:
        proba = result.predict_proba(features)
        metrics = _suite.score(task, test["target"], None, proba.to_numpy(), list(proba.columns))
    return {"wall_s": round(wall, 2), "best": result.best_framework,
            "frameworks": sorted(result.leaderboard.framework.unique().tolist()), **metrics}


def gap_figures(norm: pd.DataFrame) -> dict[str, float]:
    """Gap closed on the means (rows: datasets; columns: the plans), with its bootstrap interval."""

    def gap(frame: pd.DataFrame) -> float:
        mean = frame.mean()
        span = mean["oracle"] - mean["turns"]
        return float((mean["recommended"] - mean["turns"]) / span) if span > 0 else float("nan")

    rng = np.random.default_rng(SEED)
    draws = [gap(norm.iloc[rng.integers(0, len(norm), len(norm))]) for _ in range(RESAMPLES)]
    finite = np.array([d for d in draws if np.isfinite(d)])
    low, high = (np.percentile(finite, [5, 95]) if len(finite) else (np.nan, np.nan))
    return {"gap": gap(norm), "low": float(low), "high": float(high), "undefined": RESAMPLES - len(finite)}


def render(path: Path = OUT) -> str:
    rows = pd.DataFrame([json.loads(x) for x in path.read_text().splitlines() if x.strip()])
    rows = rows.drop_duplicates(["dataset", "budget", "plan"], keep="last")
    lines = ["# The recommendation's value inside the search", "",
             "`python -m benchmarks.search_value` (see its docstring). Normalised per dataset among the "
             "three plans; gap closed = (recommended - turns) / (oracle - turns) on the means.", ""]
    for budget, g in rows.groupby("budget"):
        g = g.assign(main=[r[_suite.MAIN_METRIC[r["task"]]] for _, r in g.iterrows()])
        complete = g.groupby("dataset")["plan"].nunique()
        g = g[g.dataset.isin(complete[complete == len(PLANS)].index)]
        if g.empty:
            continue
        norm = {}
        for dataset, d in g.groupby("dataset"):
            metric = _suite.MAIN_METRIC[d["task"].iloc[0]]
            higher = _suite.HIGHER_IS_BETTER[metric]
            best = d["main"].max() if higher else d["main"].min()
            const = float(d["constant"].iloc[0][metric])
            scores = zip(d.plan, d.main, strict=True)
            norm[dataset] = {p: max(0.0, _suite.normalised(v, const, best)) for p, v in scores}
        table = pd.DataFrame(norm).T[list(PLANS)]
        fig = gap_figures(table)
        promise = (g["wall_s"] <= g["budget"] * 1.05 + 5).mean()
        lines += [f"## {budget:g} s budget, {len(table)} datasets", "",
                  "| plan | mean normalised | datasets best (within 0.005) |", "|---|---|---|"]
        for plan in PLANS:
            wins = int((table[plan] >= table.max(axis=1) - 0.005).sum())
            lines.append(f"| {plan} | {table[plan].mean():.4f} | {wins} |")
        if np.isfinite(fig["gap"]):
            gap_line = (f"- share of the gap closed (turns 0%, oracle 100%): **{fig['gap']:.1%}**, 90% interval "
                        f"[{fig['low']:.1%}, {fig['high']:.1%}] ({fig['undefined']} resamples undefined)")
        else:
            gap_line = ("- share of the gap closed: **undefined**: the oracle plan (all budget to the meta-dataset's "
                        "winner) does not beat frameworks taking turns on the mean, so there is no gap to close")
        commits = sorted({str(c) for c in g.get("commit", pd.Series(dtype=object)).fillna("not recorded")})
        lines += ["", gap_line,
                  f"- time promise (wall <= budget x 1.05 + 5 s) kept on {promise:.0%} of the runs",
                  f"- code: {', '.join(commits) or 'not recorded'}", ""]
    text = "\n".join(lines)
    path.with_suffix(".md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=int, default=12, help="how many of the pool's planned datasets")
    ap.add_argument("--budgets", type=float, nargs="+", default=[10.0])
    ap.add_argument("--pool", type=Path, default=POOL)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--report", action="store_true", help="only re-render the report")
    args = ap.parse_args(argv)
    if not args.report:
        from benchmarks.compare import source_commit

        commit = source_commit()
        winners = meta_winners()
        done = set()
        if args.out.exists():
            done = {(r["dataset"], r["budget"], r["plan"]) for r in map(json.loads, args.out.read_text().splitlines())}
        for entry in plan_datasets(args.pool, args.datasets):
            if entry["name"] not in winners:
                continue
            train, test, _ = load_split(entry, args.pool)
            constant = _suite.constant_scores(entry["task"], train, test, "target")
            for budget in args.budgets:
                for plan in PLANS:
                    if (entry["name"], budget, plan) in done:
                        continue
                    record = run_plan(train, test, entry["task"], budget, plan, winners[entry["name"]])
                    row = {"dataset": entry["name"], "task": entry["task"], "budget": budget, "plan": plan,
                           "oracle_framework": winners[entry["name"]], "constant": constant, **record,
                           "commit": commit}
                    with args.out.open("a") as fh:
                        fh.write(json.dumps(row, default=str) + "\n")
                    print(f"{entry['name']:<28} {budget:>4g}s {plan:<12} "
                          f"{_suite.MAIN_METRIC[entry['task']]}={row[_suite.MAIN_METRIC[entry['task']]]:.5g} "
                          f"wall={record['wall_s']}s best={record['best']}", flush=True)
    print(render(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
