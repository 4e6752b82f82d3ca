"""Small data: the cross-validation's fold models averaged, or one refit on all rows?

Up to 10,000 rows the search cross-validates every trial (5 folds up to 1,000 rows, 3 above). It
used to refit the chosen configuration on all rows (``search_options={"bagging": "medium"}`` still
does); by this benchmark's measurement it now keeps the fold models and averages them. Measured inside
whole searches the choice drowns in the noise of which configurations a search happens to find
(docs/benchmarks.md, "Small data's fold models"). This benchmark isolates it: the same configuration
(each non-network framework's first default, or those ``--frameworks`` names, built by this project's
own adapters) on the same outer split, scored on the held-out 25% both ways,
over the development suite's small datasets and a sample of the PMLB pool, several outer splits each.

Per dataset the figure is the mean over models and splits of ``(bag - refit) / |best - constant|``
on the main metric (positive: the fold models do better), with a bootstrap 90% interval over datasets.

    python -m benchmarks.fold_bags --pool 30 --splits 3      # writes benchmarks/results/fold_bags.jsonl/.md

``--repeats 3`` asks the next question on the datasets of at most 1,000 rows, where the search draws its
5 folds three times over (``CV5_REPEATS``): the first repeat's 5 fold models averaged (what a bagged
trial keeps) against all 15 averaged (AutoGluon's repeated bagging), with no refit:

    python -m benchmarks.fold_bags --repeats 3 --pool 30 --splits 2 --out benchmarks/results/fold_bags_repeats.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._suite import HIGHER_IS_BETTER, MAIN_METRIC, constant_scores, read_manifest, score
from benchmarks.compare import DEFAULT_SUITE, RESULTS, source_commit
from benchmarks.networks_value import bootstrap_mean

FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "catboost")
#: The search cross-validates up to this many rows (automl.search._resampling.CV3_MAX_ROWS).
MAX_ROWS = 10_000
#: Seconds one fit may take; a boosted model stops adding rounds there, and a framework whose fits were
#: cut on a split is left out of the figures for it (CatBoost's default on mfeat_factors took 256 s).
FIT_CAP_SECONDS = 20.0
#: The search repeats its folds up to this many training rows (automl.search._resampling.CV5_MAX_ROWS).
REPEATED_MAX_ROWS = 1_000


def datasets(suite: Path, pool: int) -> list[tuple[str, str, pd.DataFrame, str, str]]:
    """(name, source, frame, target, task): the suite's datasets of at most MAX_ROWS rows, then ``pool``
    PMLB datasets (the portfolio's deterministic sample, capped at its 2,000 rows)."""
    out = []
    if suite.is_dir():
        for e in read_manifest(suite):
            if e.get("rows", 0) <= MAX_ROWS:
                df = pd.read_csv(suite / e["file"])
                out.append((e["name"], "dev", df[df[e["target"]].notna()].reset_index(drop=True), e["target"],
                            e["task"]))
    if pool:
        from benchmarks.portfolio import POOL, choose_datasets, eligible, load_dataset

        for e in choose_datasets(eligible(read_manifest(POOL)), pool):
            X, y = load_dataset(e)
            out.append((e["name"], "pmlb", X.assign(**{e["target"]: y}), e["target"], e["task"]))
    return out


def one_split(
    df: pd.DataFrame, target: str, task: str, seed: int, repeats: int = 1, frameworks: tuple[str, ...] = FRAMEWORKS
) -> list[dict[str, Any]]:
    """Each framework's first default on one 75/25 split: refit on the training rows, and the average of
    the search's own fold models (its k-fold plan for this many rows, first repeat). With ``repeats`` > 1
    the folds are drawn that many times and, instead of the refit, the average of every repeat's fold
    models is scored (``bag_all``)."""
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from automl.search._resampling import make_resampling
    from recommender import profile_dataset
    from search_spaces import fit_budget, get_adapter

    classification = task != "regression"
    train, test = train_test_split(df, test_size=0.25, random_state=seed,
                                   stratify=df[target] if classification else None)
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    profile = profile_dataset(train, target, task=task)  # type: ignore[arg-type]
    spec = profile.feature_spec()
    X, y, X_test = train[list(spec.columns)], train[target], test[list(spec.columns)]
    splits = make_resampling(y, classification, seed, repeats=repeats).splits
    k = len(splits) // repeats
    constant = constant_scores(task, train, test, target)
    rows = []
    for name in frameworks:
        adapter = get_adapter(name)
        if not adapter.is_installed():
            continue
        config = adapter.default_configs(spec)[0]
        template = adapter.build(config, spec, seed=seed, n_jobs=2)
        started = time.monotonic()
        with threadpool_limits(limits=2), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            refit = _fit(clone(template), X, y, fit_budget) if repeats == 1 else None
            folds = [_fit(clone(template), X.iloc[tr], y.iloc[tr], fit_budget) for tr, _ in splits]
        seconds = time.monotonic() - started
        fitted = [m for m in [refit, *folds] if m is not None]
        cut = any(bool(getattr(m[-1] if hasattr(m, "steps") else m, "truncated_", False)) for m in fitted)
        other = ({"refit": _scores(task, test[target], refit, [refit], X_test)} if refit is not None
                 else {"bag_all": _scores(task, test[target], folds[0], folds, X_test)})
        rows.append({"framework": name, "family": config.family, "folds": k, "repeats": repeats,
                     "seconds": round(seconds, 2), "cut": cut, **other,
                     "bag": _scores(task, test[target], folds[0], folds[:k], X_test), "constant": constant})
    return rows


def _fit(model: Any, X: pd.DataFrame, y: pd.Series, fit_budget: Any) -> Any:
    with fit_budget(time.monotonic() + FIT_CAP_SECONDS):
        return model.fit(X, y)


def _scores(task: str, y_test: pd.Series, reference: Any, models: list[Any], X_test: pd.DataFrame) -> dict[str, float]:
    if task == "regression":
        return score(task, y_test, np.mean([m.predict(X_test) for m in models], axis=0), None, None)
    classes = list(reference.classes_)
    proba = np.mean([_aligned(m, classes, X_test) for m in models], axis=0)
    return score(task, y_test.astype(str), None, proba, [str(c) for c in classes])


def _aligned(model: Any, classes: list[Any], X: pd.DataFrame) -> np.ndarray:
    """``model``'s probabilities in ``classes`` order (a fold may have seen the classes in another order)."""
    proba = np.asarray(model.predict_proba(X), dtype=float)
    order = [list(model.classes_).index(c) for c in classes]
    return proba[:, order]


def arms(rows: pd.DataFrame) -> tuple[str, str]:
    """The two arms a file compares: (bag, refit), or (bag_all, bag) for a ``--repeats`` run."""
    return ("bag_all", "bag") if "bag_all" in rows else ("bag", "refit")


def differences(rows: pd.DataFrame) -> pd.DataFrame:
    """Per row: (a - b) / |best - constant| on the main metric for the file's :func:`arms` (a, b), positive
    when a is better; best: the best score of any framework either way on that dataset and split. Cut
    fits are left out."""
    a, b = arms(rows)
    rows = rows[~rows.get("cut", pd.Series(False, index=rows.index)).astype(bool)]
    out = []
    for (_, _), g in rows.groupby(["dataset", "split"]):
        metric = MAIN_METRIC[g.task.iloc[0]]
        sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
        values = [sign * r[v][metric] for r in g.to_dict("records") for v in (a, b)]
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            out += _normalised(g, metric, sign, max(finite), a, b)
    return pd.DataFrame(out)


def _normalised(g: pd.DataFrame, metric: str, sign: float, best: float, a: str, b: str) -> list[dict[str, Any]]:
    out = []
    for r in g.to_dict("records"):
        bag, refit, constant = r[a][metric], r[b][metric], r["constant"][metric]
        span = abs(best - sign * constant)
        if not (math.isfinite(bag) and math.isfinite(refit)) or span == 0:
            continue
        out.append({**{k: r[k] for k in ("dataset", "source", "task", "rows", "framework", "split")},
                    "difference": sign * (bag - refit) / span})
    return out


def report(rows: pd.DataFrame, command: str) -> str:
    d = differences(rows)
    a, b = arms(rows)
    per_dataset = d.groupby(["dataset", "source", "task", "rows"], as_index=False).difference.mean()
    meaning = ("the fold models averaged do better than one refit on all rows" if b == "refit" else
               "every repeat's fold models averaged do better than the first repeat's alone")
    lines = [f"Command: `{command}` (at {', '.join(sorted(rows.commit.unique()))})", "",
             f"Difference per dataset: mean over frameworks and outer splits of ({a} - {b}) / |best - constant| "
             f"on the main metric; positive: {meaning}.", "",
             f"| datasets | rows | mean difference | 90% interval | {a} better | {b} better |",
             "|---|---|---:|---|---:|---:|"]
    bands = [("all", per_dataset), ("up to 1,000 (5 folds)", per_dataset[per_dataset.rows <= 1000]),
             ("1,001 to 10,000 (3 folds)", per_dataset[per_dataset.rows > 1000])]
    extreme = per_dataset.difference.abs().idxmax()
    bands.insert(1, (f"all but the most extreme ({per_dataset.dataset[extreme]})", per_dataset.drop(index=extreme)))
    bands += [(f"task {t}", g) for t, g in per_dataset.groupby("task")]
    for name, g in bands:
        if g.empty:
            continue
        low, high = bootstrap_mean(g.difference.to_numpy())
        lines.append(f"| {name} | {len(g)} | {g.difference.mean():+.4f} | [{low:+.4f}, {high:+.4f}] | "
                     f"{int((g.difference > 0).sum())} | {int((g.difference < 0).sum())} |")
    lines += ["", "Per framework (mean over datasets and splits):", "", "| framework | pairs | mean difference | "
              f"{a} better |", "|---|---:|---:|---:|"]
    for f, g in d.groupby("framework"):
        lines.append(f"| {f} | {len(g)} | {g.difference.mean():+.4f} | {(g.difference > 0).mean():.0%} |")
    lines += ["", "Per dataset:", "", "| dataset | source | task | rows | mean difference |", "|---|---|---|---:|---:|"]
    for r in per_dataset.sort_values("difference").to_dict("records"):
        lines.append(f"| {r['dataset']} | {r['source']} | {r['task']} | {r['rows']} | {r['difference']:+.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=30, help="PMLB datasets to add to the suite's small ones")
    ap.add_argument("--splits", type=int, default=3, help="outer 75/25 splits per dataset (seeds 0..n-1)")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--out", type=Path, default=RESULTS / "fold_bags.jsonl")
    ap.add_argument("--repeats", type=int, default=1,
                    help="> 1: on datasets of at most 1,000 rows, every repeat's fold models against the first's")
    ap.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS),
                    help="each one's first default configuration (torch: RealMLP) is measured")
    ap.add_argument("--report", action="store_true", help="only re-render the report of --out")
    args = ap.parse_args(argv)
    command = f"python -m benchmarks.fold_bags --pool {args.pool} --splits {args.splits}"
    if args.repeats > 1:
        command += f" --repeats {args.repeats} --out benchmarks/results/{args.out.name}"
    if list(args.frameworks) != list(FRAMEWORKS):
        command += f" --frameworks {' '.join(args.frameworks)}"
    if not args.report:
        commit = source_commit()
        args.out.write_text("")
        for name, source, df, target, task in datasets(args.suite, args.pool):
            if args.repeats > 1 and len(df) * 0.75 > REPEATED_MAX_ROWS:  # the search's training rows
                continue
            for split in range(args.splits):
                for r in one_split(df, target, task, split, args.repeats, tuple(args.frameworks)):
                    row = {"dataset": name, "source": source, "task": task, "rows": len(df), "split": split,
                           "commit": commit, "command": command, **r}
                    with args.out.open("a") as f:
                        f.write(json.dumps(row) + "\n")
            print(f"{name:<28} {len(df):>6} rows {task:<10} done", flush=True)
    rows = pd.DataFrame([json.loads(x) for x in args.out.read_text().splitlines() if x.strip()])
    text = report(rows, str(rows.command.iloc[0]) if "command" in rows else command)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
