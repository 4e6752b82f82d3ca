"""Small data: which way of choosing ensemble weights from out-of-fold predictions tests best?

The search ends with greedy ensemble selection (Caruana et al. 2004) over its best trials' out-of-fold
predictions. On a few hundred rows those predictions are noisy, and the weights greedy selection fits
to them may not carry over to new rows: on hitters the plain average of every default configuration
tested better than the greedy selection from the same candidates. This benchmark measures that over
many small datasets, isolated from the search: the same candidates (every installed framework's default
configurations, built by this project's adapters and cross-validated with the search's own folds for
the rows), their out-of-fold predictions on the training rows and their fold models' averaged
predictions on a held-out 25%, and several ways of weighting them:

- ``best``: the single candidate with the best out-of-fold score (no ensemble);
- ``greedy``: this project's selection (``automl.search._ensemble.greedy_selection``);
- ``greedy_prefix``: 25 rounds without stopping early, keeping the best-scoring prefix (AutoGluon's);
- ``bagged``: greedy selection on ``BOOTSTRAPS`` bootstrap samples of the out-of-fold rows, weights averaged
  (``automl.search._ensemble.bootstrapped_selection``); ``bagged_5`` the same with 5 samples, the fewest
  the search draws when time is short;
- ``uniform``: every candidate's predictions averaged;
- with ``--repeats`` above 1, ``best_mean``, ``greedy_mean`` and ``bagged_mean``: ``best``, ``greedy`` and ``bagged`` on
  each row's out-of-fold predictions averaged over the repeats (``automl.search._ensemble.average_repeats``), where
  the others score the repeats' predictions side by side, as the search does.

Per dataset and outer split, each way's held-out score relative to ``greedy`` as
``(way - greedy) / |best candidate - constant|`` on the main metric (positive: better than greedy), then
the mean over datasets with a bootstrap 90% interval.

    python -m benchmarks.ensemble_selection --pool 30 --splits 2
    python -m benchmarks.ensemble_selection --report          # re-render from the cached predictions

The candidates' predictions are cached under ``.cache/ensemble_selection`` (one file per dataset and
split), so new ways of weighting can be scored without fitting again.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._suite import HIGHER_IS_BETTER, MAIN_METRIC, constant_scores, score
from benchmarks.compare import DEFAULT_SUITE, RESULTS, source_commit
from benchmarks.fold_bags import FIT_CAP_SECONDS, REPEATED_MAX_ROWS, datasets
from benchmarks.networks_value import bootstrap_mean

FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "catboost", "torch")
CACHE = Path(".cache/ensemble_selection")
#: Bootstrap samples of the out-of-fold rows for ``bagged``.
BOOTSTRAPS = 20
WAYS = ("best", "greedy", "greedy_prefix", "bagged", "bagged_5", "uniform", "best_mean", "greedy_mean", "bagged_mean")
#: Ways scored on each row's out-of-fold predictions averaged over the repeats (``--repeats`` > 1 only).
MEAN_WAYS = ("best_mean", "greedy_mean", "bagged_mean")


def candidates(df: pd.DataFrame, target: str, task: str, split: int, repeats: int,
               frameworks: tuple[str, ...], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every default configuration's out-of-fold predictions (in the search's split order, as the search
    pools them) and held-out predictions (its kept fold models averaged) on one outer 75/25 split."""
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from automl.search._folds import predictions
    from automl.search._resampling import make_resampling
    from recommender import profile_dataset
    from search_spaces import fit_budget, get_adapter

    classification = task != "regression"
    train, test = train_test_split(df, test_size=0.25, random_state=split,
                                   stratify=df[target] if classification else None)
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    spec = profile_dataset(train, target, task=task).feature_spec()  # type: ignore[arg-type]
    X, y, X_test = train[list(spec.columns)], train[target], test[list(spec.columns)]
    resampling = make_resampling(y, classification, split, repeats=repeats)
    classes = np.array(sorted(y.unique())) if classification else None
    keys, oof, held_out, seconds = [], [], [], []
    first_repeat = resampling.n_splits // resampling.repeats
    for name in frameworks:
        adapter = get_adapter(name)
        if not adapter.is_installed():
            continue
        for config in adapter.default_configs(spec):
            if f"{name}/{config.family}" in skip:
                continue
            template = adapter.build(config, spec, seed=split, n_jobs=2)
            started, preds, kept, cut = time.monotonic(), [], [], False
            with threadpool_limits(limits=2), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for i, (tr, va) in enumerate(resampling.splits):
                    with fit_budget(time.monotonic() + FIT_CAP_SECONDS):
                        model = clone(template).fit(X.iloc[tr], y.iloc[tr])
                    step = model[-1] if hasattr(model, "steps") else model
                    cut = cut or bool(getattr(step, "truncated_", False))
                    preds.append(predictions(model, X.iloc[va], classes))
                    if adapter.network or i < first_repeat:  # what a bagged trial keeps (Resampling.kept_models)
                        kept.append(predictions(model, X_test, classes))
            if cut or any(p is None for p in preds + kept):  # the search ensembles neither
                continue
            keys.append(f"{name}/{config.family}")
            oof.append(np.concatenate(preds))
            held_out.append(np.mean(kept, axis=0))
            seconds.append(time.monotonic() - started)
    eval_index = np.concatenate([va for _, va in resampling.splits])
    return {"keys": np.array(keys), "oof": np.array(oof), "test": np.array(held_out), "seconds": np.array(seconds),
            # Labels as text: an object array would need pickling to be read back.
            "y_eval": _plain(y.to_numpy()[eval_index], classification), "eval_rows": eval_index,
            "y_test": _plain(test[target].to_numpy(), classification),
            "classes": _plain(classes, True) if classes is not None else np.array([]),
            "constant": json.dumps(constant_scores(task, train, test, target))}


def _plain(values: np.ndarray, labels: bool) -> np.ndarray:
    return np.asarray(values).astype(str) if labels else np.asarray(values, dtype=float)


def weights(way: str, oof: np.ndarray, y_eval: np.ndarray, task: str, classes: np.ndarray | None,
            eval_rows: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """One weight per candidate (summing to 1) for ``way``."""
    from automl.metrics import resolve_metric
    from automl.search._ensemble import (
        average_repeats,
        bootstrapped_selection,
        encoded_target,
        greedy_selection,
        score_predictions,
    )

    if way in MEAN_WAYS:
        groups = np.arange(len(y_eval)) if eval_rows is None else eval_rows
        averaged, y_rows, _ = average_repeats(dict(enumerate(oof)), y_eval, groups)
        return weights(way.removesuffix("_mean"), np.array([averaged[i] for i in range(len(oof))]), y_rows, task,
                       classes, None, seed)
    y_enc, scorer, codes = encoded_target(pd.Series(y_eval), resolve_metric(None, task), classes)  # type: ignore[arg-type]
    y_enc = np.asarray(y_enc)
    m = len(oof)
    if way == "uniform":
        return np.full(m, 1.0 / m)
    if way == "best":
        scores = [score_predictions(scorer, p, y_enc, codes) for p in oof]
        return np.eye(m)[int(np.argmax(scores))]
    if way == "greedy":
        return _dense(greedy_selection(dict(enumerate(oof)), y_enc, scorer, codes)[0], m)
    if way == "greedy_prefix":
        return _prefix_selection(oof, lambda p: score_predictions(scorer, p, y_enc, codes))
    if way in ("bagged", "bagged_5"):
        groups = np.arange(len(y_enc)) if eval_rows is None else eval_rows
        picked, _ = bootstrapped_selection(dict(enumerate(oof)), y_enc, scorer, codes, groups=groups,
                                           samples=BOOTSTRAPS if way == "bagged" else 5, seed=seed)
        return _dense(picked, m)
    raise ValueError(f"unknown way {way!r}")


def _dense(picked: dict[int, float], m: int) -> np.ndarray:
    w = np.zeros(m)
    for i, v in picked.items():
        w[i] = v
    return w


def _prefix_selection(oof: np.ndarray, judge: Callable[[np.ndarray], float], rounds: int = 25) -> np.ndarray:
    """Greedy selection for ``rounds`` rounds whatever the score does, keeping the best-scoring prefix."""
    total, picks, trajectory = np.zeros_like(oof[0]), [], []
    for r in range(1, rounds + 1):
        scores = [judge((total + p) / r) for p in oof]
        j = int(np.argmax(scores))
        picks.append(j)
        trajectory.append(scores[j])
        total = total + oof[j]
    kept = picks[: int(np.argmax(trajectory)) + 1]
    return np.bincount(kept, minlength=len(oof)) / len(kept)


def evaluate(path: Path, task: str) -> list[dict[str, Any]]:
    """Each way's held-out scores on one cached dataset and split."""
    d = np.load(path, allow_pickle=False)
    classes = d["classes"] if task != "regression" else None
    constant = json.loads(str(d["constant"]))
    singles = [_held_out(task, d["y_test"], p, classes) for p in d["test"]]
    rows = []
    repeated = "eval_rows" in d and len(np.unique(d["eval_rows"])) < len(d["eval_rows"])
    for way in WAYS:
        if way in MEAN_WAYS and not repeated:
            continue
        w = weights(way, d["oof"], d["y_eval"], task, classes, d["eval_rows"] if "eval_rows" in d else None)
        members = {str(k): round(float(v), 3) for k, v in zip(d["keys"], w, strict=True) if v > 0}
        rows.append({"way": way, "scores": _held_out(task, d["y_test"], np.tensordot(w, d["test"], axes=1), classes),
                     "members": members, "constant": constant, "candidates": singles})
    return rows


def _held_out(task: str, y_test: np.ndarray, pred: np.ndarray, classes: np.ndarray | None) -> dict[str, float]:
    if task == "regression":
        return score(task, pd.Series(y_test), pred, None, None)
    return score(task, pd.Series(y_test).astype(str), None, pred, [str(c) for c in classes])  # type: ignore[union-attr]


def differences(rows: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, split and way: (way - greedy) / |best candidate - constant| on the main metric,
    positive when the way tests better than greedy selection."""
    out = []
    for (dataset, split), g in rows.groupby(["dataset", "split"]):
        metric = MAIN_METRIC[g.task.iloc[0]]
        sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
        first = g.iloc[0]
        best = max(sign * c[metric] for c in first["candidates"] if math.isfinite(c[metric]))
        span = abs(best - sign * first["constant"][metric])
        greedy = g[g.way == "greedy"].iloc[0]["scores"][metric]
        if span == 0 or not math.isfinite(greedy):
            continue
        for r in g.to_dict("records"):
            out.append({"dataset": dataset, "split": split, "task": r["task"], "source": r["source"],
                        "rows": r["rows"], "way": r["way"],
                        "difference": sign * (r["scores"][metric] - greedy) / span})
    return pd.DataFrame(out)


def report(rows: pd.DataFrame, command: str) -> str:
    d = differences(rows)
    per = d.groupby(["dataset", "source", "task", "rows", "way"], as_index=False).difference.mean()
    lines = [f"Command: `{command}` (at {', '.join(sorted(rows.commit.unique()))})", "",
             "Per dataset: mean over outer splits of (way - greedy) / |best candidate - constant| on the main "
             "metric (AUC, log loss, RMSE); positive: the way tests better than this project's greedy selection.",
             "", "| way | datasets | mean difference | 90% interval | better | worse |",
             "|---|---:|---:|---|---:|---:|"]
    ways = [w for w in WAYS if w != "greedy" and w in set(per.way)]
    for way in ways:
        mine = per[per.way == way]
        extreme = mine.difference.abs().idxmax()
        bands = [("all", mine), (f"all but the most extreme ({mine.dataset[extreme]})", mine.drop(index=extreme)),
                 *mine.groupby("task")]
        for band, g in bands:
            low, high = bootstrap_mean(g.difference.to_numpy())
            name = way if band == "all" else f"{way}, {band}"
            lines.append(f"| {name} | {len(g)} | {g.difference.mean():+.4f} | [{low:+.4f}, {high:+.4f}] | "
                         f"{int((g.difference > 1e-12).sum())} | {int((g.difference < -1e-12).sum())} |")
    wide = per.pivot_table(index=["dataset", "task", "rows"], columns="way", values="difference").reset_index()
    lines += ["", "Per dataset (difference against greedy):", "",
              "| dataset | task | rows | " + " | ".join(ways) + " |",
              "|---|---|---:|" + "---:|" * len(ways)]
    for r in wide.sort_values("uniform").to_dict("records"):
        lines.append(f"| {r['dataset']} | {r['task']} | {r['rows']} | "
                     + " | ".join(f"{r[w]:+.4f}" for w in ways) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=30, help="PMLB datasets to add to the suite's small ones")
    ap.add_argument("--splits", type=int, default=2, help="outer 75/25 splits per dataset (seeds 0..n-1)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="times the 5 folds are drawn (the search draws 3; 1 fits a third as much)")
    ap.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS))
    ap.add_argument("--skip", nargs="+", default=[], help="candidates left out, as framework/family (torch/tabm)")
    ap.add_argument("--datasets", nargs="+", help="only these datasets (of the suite and the pool sample)")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, default=RESULTS / "ensemble_selection.jsonl")
    ap.add_argument("--report", action="store_true", help="score the cached predictions again, fitting nothing")
    args = ap.parse_args(argv)
    command = f"python -m benchmarks.ensemble_selection --pool {args.pool} --splits {args.splits}"
    if args.repeats != 1:
        command += f" --repeats {args.repeats}"
    if list(args.frameworks) != list(FRAMEWORKS):
        command += f" --frameworks {' '.join(args.frameworks)}"
    if args.skip:
        command += f" --skip {' '.join(args.skip)}"
    commit = source_commit()
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, source, df, target, task in datasets(args.suite, args.pool):
        if len(df) * 0.75 > REPEATED_MAX_ROWS or (args.datasets and name not in args.datasets):
            continue  # small data only (the search's training rows)
        for split in range(args.splits):
            path = args.cache / f"{name}_split{split}_r{args.repeats}.npz"
            if not args.report:
                started = time.monotonic()
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, **candidates(df, target, task, split, args.repeats, tuple(args.frameworks),
                                                 tuple(args.skip)))
                tmp.replace(path)
                print(f"{name:<28} split {split} {len(df):>6} rows {task:<10} {time.monotonic() - started:6.1f}s",
                      flush=True)
            if path.exists():
                for r in evaluate(path, task):
                    rows.append({"dataset": name, "source": source, "task": task, "rows": len(df), "split": split,
                                 "commit": commit, "command": command, **r})
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = report(pd.DataFrame(rows), command)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
