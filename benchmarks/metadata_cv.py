"""Score each meta-dataset run's chosen configuration by cross-validation on all of its dataset's rows.

The meta-dataset (``python -m benchmarks.metadata``) scores each run on a 25% holdout. On the
small datasets that make up most of PMLB that holdout has tens of rows, and which framework wins
it is often a coin flip: the framework best by this script's cross-validation is a hit (within
0.005 normalised) on the holdout on only 62% of the 130 datasets, the holdout's best a hit by
cross-validation on 65% (``make eval-recommender``, "Label noise"). A ranking learned from, and
judged on, the holdout mostly measures noise.

This script takes each successful run's configuration (its best finished trial: with
``ensemble=False`` that is what the run's final model refits), rebuilds it with the framework's
adapter and scores it by stratified 5-fold cross-validation (plain 5-fold for regression), repeated
twice, on train and holdout rows together; every row is predicted once per repeat. The constant
predictor (training fold prior or mean) is scored on the same folds. A run whose first repeat took
longer than ``--max-seconds`` keeps one repeat. The configuration is fitted to completion (its trial
may have been cut at the run's deadline: most Keras runs' best trials were) unless one fit passes
``MAX_FIT_SECONDS``, where it stops as a trial does at its deadline (``cv_truncated`` counts those).
Each run appends one line to ``benchmarks/results/metadata_cv.jsonl`` (fields: :data:`CV_FIELDS`),
joined to the run table by ``run_id`` in :func:`benchmarks.metadata.load_runs`, which normalises the
cross-validated scores per dataset as it does the holdout ones (``normalised_cv``).

The configuration was chosen by a search on the training rows, which overlap every fold here, so
the cross-validated score is slightly optimistic, more so for a framework that ran more trials; it
is a far less noisy comparison of the frameworks' chosen models than a holdout of tens of rows.

Resumable (runs already scored are skipped) and parallel (``--jobs``: each worker fits with one
thread). Seconds are not recorded for the cost model: only scores are.

    python -m benchmarks.metadata_cv                 # every run of the run table not scored yet
    python -m benchmarks.metadata_cv --jobs 2 --minutes 30
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import _suite
from benchmarks.metadata import RUNS, _append, _read, cv_path, load_split, trials_path
from benchmarks.portfolio import POOL

ROOT = Path(__file__).resolve().parents[1]
CV_RUNS = cv_path(RUNS)
N_SPLITS = 5
REPEATS = 2
#: A run whose first repeat took longer than this keeps one repeat.
MAX_SECONDS = 20.0
#: One fit stops (as a search's trial does at its deadline: boosting rounds or epochs cut short)
#: after this long; the line counts the folds cut so (``cv_truncated``).
MAX_FIT_SECONDS = 30.0
CV_FIELDS = (
    "run_id", "dataset", "framework", "status", "reason", "trial", "family", "config", "metric", "cv_score",
    "cv_constant", "cv_folds", "cv_repeats", "cv_fold_scores", "cv_truncated", "seconds", "date",
)


def chosen_trial(trials: pd.DataFrame) -> Mapping[str, Any] | None:
    """The run's best finished trial (highest value, the earliest on a tie), or None."""
    done = trials[(trials.state == "COMPLETE") & trials.value.notna() & trials.family.notna()]
    if done.empty:
        return None
    return done.sort_values(["value", "trial"], ascending=[False, True]).iloc[0].to_dict()


def _predict(estimator: Any, X: pd.DataFrame, task: str) -> tuple[np.ndarray | None, np.ndarray | None, list]:
    if task == "regression":
        return np.asarray(estimator.predict(X), dtype=float), None, []
    return None, np.asarray(estimator.predict_proba(X), dtype=float), list(estimator.classes_)


def cross_validate(df: pd.DataFrame, task: str, framework: str, family: str, params: Mapping[str, Any], *,
                   n_splits: int = N_SPLITS, repeats: int = REPEATS, max_seconds: float = MAX_SECONDS,
                   max_fit_seconds: float = MAX_FIT_SECONDS, seed: int = 0) -> dict[str, Any]:
    """Out-of-fold score of one configuration on ``df`` (column ``target``), and the constant predictor's.

    Each repeat predicts every row once; the metric (:data:`benchmarks._suite.MAIN_METRIC`) is computed
    on a repeat's pooled out-of-fold predictions, then averaged over repeats."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from recommender import profile_dataset
    from search_spaces import Config, fit_budget, get_adapter

    metric = _suite.MAIN_METRIC[task]
    spec = profile_dataset(df, "target", task=task, seed=seed).feature_spec()
    X, y = df[list(spec.columns)], df["target"]
    adapter = get_adapter(framework)
    config = Config(framework, family, dict(params))
    classes = None if task == "regression" else sorted(y.astype(str).unique())
    scores, constants = [], []
    truncated = 0
    started = time.monotonic()
    for repeat in range(repeats):
        if repeat and time.monotonic() - started > max_seconds:
            break
        splitter = (KFold(n_splits, shuffle=True, random_state=seed + repeat) if task == "regression"
                    else StratifiedKFold(n_splits, shuffle=True, random_state=seed + repeat))
        pred = np.zeros(len(y)) if task == "regression" else np.zeros((len(y), len(classes)))
        const = np.zeros_like(pred)
        for train_idx, test_idx in splitter.split(X, y):
            estimator = adapter.build(config, spec, seed=seed, n_jobs=1)
            with fit_budget(time.monotonic() + max_fit_seconds):
                estimator.fit(X.iloc[train_idx], y.iloc[train_idx])
            truncated += bool(getattr(estimator[-1], "truncated_", False))
            p, proba, labels = _predict(estimator, X.iloc[test_idx], task)
            if task == "regression":
                pred[test_idx] = p
                const[test_idx] = float(y.iloc[train_idx].mean())
                continue
            column = {str(c): i for i, c in enumerate(labels)}
            for j, c in enumerate(classes):  # a class missing from the fold's model gets probability 0
                if c in column:
                    pred[test_idx, j] = proba[:, column[c]]
            prior = y.iloc[train_idx].astype(str).value_counts(normalize=True)
            const[test_idx] = [prior.get(c, 0.0) for c in classes]
        truth = y if task == "regression" else y.astype(str)
        scores.append(_suite.score(task, truth, pred, pred, classes)[metric])
        constants.append(_suite.score(task, truth, const, const, classes)[metric])
    return {"metric": metric, "cv_score": float(np.mean(scores)), "cv_constant": float(np.mean(constants)),
            "cv_fold_scores": [round(s, 6) for s in scores], "cv_repeats": len(scores), "cv_truncated": truncated,
            "cv_folds": n_splits * len(scores), "seconds": round(time.monotonic() - started, 2)}


def _score_run(run: Mapping[str, Any], trial: Mapping[str, Any], pool: str, max_seconds: float) -> dict[str, Any]:
    """One run, in a worker: its dataset's rows (the same as the run's split, train and test together)."""
    import warnings

    warnings.filterwarnings("ignore")
    base = {"run_id": run["run_id"], "dataset": run["dataset"], "framework": run["framework"],
            "trial": int(trial["trial"]), "family": trial["family"], "config": trial["config"],
            "date": time.strftime("%Y-%m-%d")}
    try:
        out = cross_validate(_rows(pool, run["dataset"]), run["task"], run["framework"], trial["family"],
                             trial["config"] or {}, max_seconds=max_seconds)
        return {**base, "status": "ok", "reason": None, **out}
    except Exception as e:  # recorded, and the next run goes on
        return {**base, "status": "failed", "reason": f"{type(e).__name__}: {e}"[:500]}


@functools.lru_cache(maxsize=2)
def _rows(pool: str, dataset: str) -> pd.DataFrame:
    """A dataset's rows as its runs saw them (train and test of the benchmark split together); a worker
    keeps the last two, as the frameworks of one dataset come one after another."""
    from benchmarks.portfolio import eligible

    entry = next(e for e in eligible(_suite.read_manifest(Path(pool))) if e["name"] == dataset)
    train, test, _ = load_split(entry, Path(pool))
    return pd.concat([train, test], ignore_index=True)


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def pending_runs(runs_path: Path, out: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(run line, chosen trial) of every successful run not yet in ``out``, in the run table's order."""
    runs = [r for r in _read(runs_path) if r["status"] == "ok"]
    done = {r["run_id"] for r in _read(out)}
    trials = pd.DataFrame(_read(trials_path(runs_path)))
    by_run = dict(tuple(trials.groupby("run_id"))) if len(trials) else {}
    todo = []
    for r in runs:
        if r["run_id"] in done or r["run_id"] not in by_run:
            continue
        trial = chosen_trial(by_run[r["run_id"]])
        if trial is not None:
            todo.append((r, trial))
    return todo


def build(runs_path: Path, out: Path, *, pool: Path, jobs: int = 1, minutes: float | None = None,
          max_seconds: float = MAX_SECONDS) -> int:
    """Score every pending run with ``jobs`` worker processes, appending to ``out``; returns runs scored."""
    import multiprocessing as mp

    todo = pending_runs(runs_path, out)
    print(f"plan: {len(todo)} runs to score by {N_SPLITS}-fold cross-validation x {REPEATS} on all rows, "
          f"{jobs} worker(s); writing {out}", flush=True)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = "1"  # inherited by the workers: one thread each
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    stop_at = None if minutes is None else time.monotonic() + 60 * minutes
    ctx = mp.get_context("forkserver")
    done = 0
    started = time.monotonic()
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init, max_tasks_per_child=25) as pool_:
        queue = list(todo)
        running: dict[Future, tuple[dict, dict]] = {}
        while queue or running:
            while queue and len(running) < jobs and (stop_at is None or time.monotonic() < stop_at):
                run, trial = queue.pop(0)
                running[pool_.submit(_score_run, run, trial, str(pool), max_seconds)] = (run, trial)
            if not running:
                print(f"stopping: --minutes {minutes:g} reached; run the same command again to go on", flush=True)
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                run, _ = running.pop(future)
                line = future.result()
                _append(out, [line], CV_FIELDS)
                done += 1
                what = (f"{line['metric']} {line['cv_score']:.4f} (constant {line['cv_constant']:.4f}, holdout "
                        f"{run['test_score']:.4f}), {line['cv_folds']} folds in {line['seconds']:.1f} s"
                        if line["status"] == "ok" else f"FAILED: {line['reason']}")
                print(f"[{done}/{len(todo)} {time.monotonic() - started:5.0f} s] {run['dataset']} "
                      f"{run['framework']}: {what}", flush=True)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metadata_cv", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=RUNS, help="the run table (trials beside it)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"default: beside the run table ({CV_RUNS.relative_to(ROOT)} for the default one)")
    parser.add_argument("--pool", type=Path, default=POOL, help="the runs' dataset folder (default: PMLB pool)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--minutes", type=float, default=None, help="start no new run after this long")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS,
                        help=f"one repeat only when the first took longer (default {MAX_SECONDS:g})")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if not args.runs.exists():
        print(f"no run table at {args.runs}: build it with python -m benchmarks.metadata", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    build(args.runs, args.out or cv_path(args.runs), pool=args.pool, jobs=args.jobs, minutes=args.minutes,
          max_seconds=args.max_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
