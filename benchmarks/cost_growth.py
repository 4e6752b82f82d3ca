"""How one fit's seconds grow with the rows, against what the cost models predict (issue 21).

The learned cost model (:mod:`recommender.learned`) was trained on the meta-dataset's fits on at most
~12,000 training rows, where fixed costs dominate; its slope there is about seconds ~ rows^0.3. The
search sizes its subsample and its bagging plan from those predictions, so on large data they matter.
This measures the truth on a ladder of row counts.

Per framework, in a fresh process with one thread (``n_jobs=1`` and ``threadpool_limits(1)``, as the
learned model was measured): the first
default configuration the search queues (``adapter.default_configs``) built as a trial builds it,
fitted on ``rows`` rows of the data and then predicting ``rows / 4`` other rows (one fold's fit and
score), under a deadline of ``--cap`` seconds (a network stops there, as in a trial). The ladder
climbs while a fit takes less than ``--cap / 3`` seconds. Each row records the measured seconds, the
learned model's prediction (per framework, and per trial with the configuration) and the rule-based
one. The report gives, per framework, the measured growth exponent (least squares of log seconds on
log rows over the uncut fits from 10,000 rows up) and the ratio measured / learned at each size.

The data: the scale benchmark's generated frame (:func:`benchmarks.scale.make_frame`: 40 numeric
columns, 10 categorical ones of 5 to 5,000 levels, binary) or a suite dataset (``--dataset``; the
ladder stops at its training rows).

    python -m benchmarks.cost_growth [--frameworks sklearn xgboost] [--rows 10000 100000 1000000] [--cap 90]

Rows are appended to ``benchmarks/results/cost_growth.jsonl`` with the commit; the report of the
invocation is appended to ``cost_growth.md``. ``--threads 2`` measures the same fits on two threads
and reports the speed-up against the one-thread fits of the same sizes (the search runs a trial on
every free core, the cost model counts one). ``--ship`` then writes ``recommender/row_growth.json`` (the
exponents of the latest commit's fits, and the most rows a meta-dataset fit saw), which the learned
cost model uses beyond those rows (:class:`recommender.learned.RowGrowth`).

    python -m benchmarks.cost_growth --ship
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.compare import DEFAULT_SUITE, RESULTS, source_commit
from recommender.learned import GROWTH_FILE, RowGrowth

FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "catboost", "torch", "keras")
LADDER = (3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
#: Exponents are fitted from this many rows up (below it fixed costs dominate, as in the meta-dataset).
GROWTH_FROM_ROWS = 10_000


def load_frame(dataset: str, rows: int, suite: Path) -> tuple[pd.DataFrame, str, str]:
    """The data (at least ``rows`` x 1.25 rows when generated), its target and task."""
    if dataset == "scale":
        from benchmarks.scale import make_frame

        return make_frame(rows + rows // 4), "y", "binary"
    from benchmarks._suite import load_split, read_manifest

    entry = next((e for e in read_manifest(suite) if e["name"] == dataset), None)
    if entry is None:
        raise SystemExit(f"--dataset {dataset!r} is not in {suite / 'manifest.json'} (or use 'scale')")
    train, _ = load_split(entry, suite)
    return train.reset_index(drop=True), entry["target"], entry["task"]


def predicted(framework: str, family: str, config: dict[str, Any], profile: Any, rows: int) -> dict[str, float | None]:
    """The learned (per framework, per trial) and rule-based seconds for one fit on ``rows`` rows of
    the data ``profile`` (a :class:`recommender.DatasetProfile`) describes."""
    from recommender import detect_hardware
    from recommender.learned import load_model
    from recommender.meta import meta_features
    from recommender.ranking import RuleBasedRanker
    from search_spaces import get_adapter

    task = profile.task
    meta = meta_features(profile)
    model = load_model()
    rule = RuleBasedRanker().cost(get_adapter(framework), profile, detect_hardware(), "cpu").seconds
    return {
        "learned_s": None if model is None else model.fold_seconds(framework, meta, task, rows),
        "learned_trial_s": None if model is None else model.trial_fold_seconds(framework, meta, task, rows, family,
                                                                               config),
        "rules_s": rule,
    }


def measure_one(
    framework: str, dataset: str, ladder: list[int], cap: float, suite: Path, threads: int = 1
) -> list[dict[str, Any]]:
    """The ladder for one framework on ``threads`` threads, in this process (``--one``)."""
    from threadpoolctl import threadpool_limits

    from recommender import profile_dataset
    from search_spaces import fit_budget, get_adapter

    frame, target, task = load_frame(dataset, max(ladder), suite)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(frame))
    adapter = get_adapter(framework)
    out = []
    for rows in ladder:
        valid_rows = max(rows // 4, 1)
        if rows + valid_rows > len(frame):
            break
        train = frame.iloc[order[:rows]]
        valid = frame.iloc[order[rows:rows + valid_rows]]
        profile = profile_dataset(train, target)
        spec = profile.feature_spec()
        config = adapter.default_configs(spec)[0]
        pipeline = adapter.build(config, spec, seed=0, n_jobs=threads)
        X, y = train[list(spec.columns)], train[target]
        started = time.monotonic()
        with fit_budget(started + cap, predict_rows=valid_rows), threadpool_limits(limits=threads):
            pipeline.fit(X, y)
            (pipeline.predict if task == "regression" else pipeline.predict_proba)(valid[list(spec.columns)])
        seconds = time.monotonic() - started
        cut = bool(getattr(pipeline[-1], "truncated_", False)) or seconds >= cap
        row = {"framework": framework, "family": config.family, "dataset": dataset, "task": task, "rows": rows,
               "seconds": round(seconds, 3), "cut": cut, "cap": cap, "threads": threads,
               **{k: (None if v is None else round(v, 3))
                  for k, v in predicted(framework, config.family, config.params, profile, rows).items()}}
        print(json.dumps(row), flush=True)
        out.append(row)
        if cut or seconds > cap / 3:
            break
    return out


def growth_fits(g: pd.DataFrame) -> pd.DataFrame:
    """The fits an exponent is measured on: uncut, from :data:`GROWTH_FROM_ROWS` rows up."""
    return g[(~g.cut.astype(bool)) & (g.rows >= GROWTH_FROM_ROWS)]


def exponent(g: pd.DataFrame) -> float:
    """The least-squares b of seconds ~ rows^b over :func:`growth_fits` (NaN with fewer than two sizes)."""
    fit = growth_fits(g)
    if fit.rows.nunique() < 2:
        return math.nan
    return float(np.polyfit(np.log10(fit.rows), np.log10(fit.seconds), 1)[0])


def growth(rows: pd.DataFrame) -> pd.DataFrame:
    """Per framework (and thread count, when not one): its exponent (:func:`exponent`) and measured /
    learned at each size."""
    out = []
    rows = rows.assign(threads=threads_of(rows))
    for (name, threads), g in rows.groupby(["framework", "threads"], sort=False):
        framework = name if threads == 1 else f"{name} ({threads} threads)"
        line = {"framework": framework, "family": g.family.iloc[0], "exponent": round(exponent(g), 3),
                "fits": len(growth_fits(g))}
        for _, r in g.iterrows():
            ratio = r.seconds / r.learned_s if r.learned_s else math.nan
            line[f"{r.rows:,}"] = f"{r.seconds:.1f}s{'*' if r.cut else ''} (x{ratio:.2g})"
        out.append(line)
    return pd.DataFrame(out).set_index("framework")


def threads_of(rows: pd.DataFrame) -> pd.Series:
    """Each fit's threads (rows written before ``--threads`` existed ran on one)."""
    if "threads" not in rows:
        return pd.Series(1, index=rows.index)
    return rows["threads"].fillna(1).astype(int)


def speedups(rows: pd.DataFrame) -> pd.DataFrame:
    """Per framework and size measured on one thread and on more: the latest fit's seconds on each, and
    the speed-up (one thread's seconds / the others'); uncut fits only."""
    rows = rows.assign(threads=threads_of(rows))
    rows = rows[~rows.cut.astype(bool)].drop_duplicates(["framework", "rows", "threads"], keep="last")
    one = rows[rows.threads == 1].set_index(["framework", "rows"]).seconds
    out = []
    for _, r in rows[rows.threads > 1].iterrows():
        base = one.get((r.framework, r.rows))
        if base is not None:
            out.append({"framework": r.framework, "rows": r.rows, "threads": r.threads, "one_thread_s": base,
                        "seconds": r.seconds, "speedup": round(base / r.seconds, 2)})
    return pd.DataFrame(out)


def recheck(results: Path, dataset: str, suite: Path) -> pd.DataFrame:
    """The fits in ``results`` (one thread, the latest of each framework and size on ``dataset``) against
    what the shipped cost model predicts for them now, beside what it predicted when they were measured."""
    from recommender import profile_dataset
    from search_spaces import get_adapter

    rows = pd.DataFrame([json.loads(line) for line in results.read_text().splitlines() if line.strip()])
    rows = rows[(rows.dataset == dataset) & (threads_of(rows) == 1)]
    rows = rows.drop_duplicates(["framework", "rows"], keep="last").sort_values(["framework", "rows"])
    frame, target, _ = load_frame(dataset, int(rows.rows.max()), suite)
    order = np.random.default_rng(0).permutation(len(frame))
    out = []
    for n, group in rows.groupby("rows"):
        profile = profile_dataset(frame.iloc[order[:n]], target)
        spec = profile.feature_spec()
        for _, r in group.iterrows():
            config = get_adapter(r.framework).default_configs(spec)[0]
            now = predicted(r.framework, config.family, config.params, profile, n)
            out.append({"framework": r.framework, "rows": n, "measured_s": r.seconds, "cut": bool(r.cut),
                        "learned_then_s": r.learned_s, "learned_now_s": now["learned_s"],
                        "per_trial_now_s": now["learned_trial_s"],
                        "measured/now": round(r.seconds / now["learned_s"], 2) if now["learned_s"] else math.nan})
    return pd.DataFrame(out).sort_values(["framework", "rows"])


def meta_dataset_rows(trials: Path = RESULTS / "metadata_trials.jsonl") -> float:
    """The most training rows one fit of the meta-dataset saw (what the learned cost models know)."""
    most = 0.0
    with trials.open() as f:
        for line in f:
            most = max(most, float(json.loads(line).get("fold_train_rows") or 0.0))
    if most <= 0:
        raise SystemExit(f"{trials} has no fold_train_rows: train the meta-dataset first (make metadata)")
    return most


def ship(results: Path, dataset: str, target: Path, trials: Path = RESULTS / "metadata_trials.jsonl") -> RowGrowth:
    """Write the row growth the recommender uses (:class:`recommender.learned.RowGrowth`) from the
    latest commit's fits of each framework on ``dataset`` in ``results``."""
    rows = pd.DataFrame([json.loads(line) for line in results.read_text().splitlines() if line.strip()])
    rows = rows[(rows.dataset == dataset) & (threads_of(rows) == 1)]  # the cost model's unit is one thread
    if rows.empty:
        raise SystemExit(f"{results} has no fits on {dataset!r}: run python -m benchmarks.cost_growth first")
    exponents, commits = {}, {}
    for framework, g in rows.groupby("framework"):
        latest = g[g.commit == g.commit.iloc[-1]]
        b = exponent(latest)
        if math.isfinite(b):
            exponents[str(framework)] = round(b, 3)
            commits[str(framework)] = str(latest.commit.iloc[-1])
    if not exponents:
        raise SystemExit(f"{results}: no framework has two uncut fits from {GROWTH_FROM_ROWS:,} rows on {dataset!r}")
    growth_ = RowGrowth(meta_dataset_rows(trials), exponents, {
        "command": f"python -m benchmarks.cost_growth --ship --dataset {dataset}", "dataset": dataset,
        "commits": commits, "date": time.strftime("%Y-%m-%d"), "from_rows": GROWTH_FROM_ROWS,
    })
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(growth_.to_dict(), indent=1) + "\n")
    tmp.replace(target)
    return growth_


def plans(datasets: list[str], budgets: list[float], suite: Path, growth: RowGrowth | None = None) -> pd.DataFrame:
    """What the search would decide on each dataset's training rows (the suite's split; 'scale': the
    generated frame at 1M rows) at each budget, with the learned slope and with the measured growth
    (``growth``, default the shipped file's): the leading candidate and its predicted seconds per fit,
    the frameworks left out as too slow, and the validation plan (k-fold bags, holdout, subsample).
    Nothing is trained."""
    from dataclasses import replace

    from automl.search._bagging import plan_bagging
    from automl.search._resampling import fits_per_trial, make_resampling
    from automl.search._settings import SearchSettings
    from automl.search._time_plan import sampled_rows, subsample
    from recommender import detect_hardware, profile_dataset, recommend_frameworks
    from recommender.learned import LearnedRanker, load_model

    model = load_model()
    if model is None:
        raise SystemExit("no learned model to compare: recommender/learned_model.json is missing")
    growth = growth or model.growth
    if growth is None:
        raise SystemExit(f"no row growth: run python -m benchmarks.cost_growth, then --ship ({GROWTH_FILE.name})")
    rankers = {"learned slope": LearnedRanker(replace(model, growth=None)),
               "measured growth": LearnedRanker(replace(model, growth=growth))}
    hardware, out = detect_hardware(), []
    for name in datasets:
        if name == "scale":
            frame, target, _ = load_frame("scale", 800_000, suite)
        else:
            frame, target, _ = load_frame(name, 0, suite)
        prof = profile_dataset(frame, target)
        y = frame[target]
        for budget in budgets:
            settings = SearchSettings(time_budget=budget, n_trials=None, seed=0, n_jobs=-1, started=0.0)
            for label, ranker in rankers.items():
                rec = recommend_frameworks(prof, hardware, time_budget=budget, ranker=ranker,
                                           fits_per_trial=fits_per_trial(prof.n_rows),
                                           sampled_rows=sampled_rows(prof.n_rows))
                messages: list[str] = []
                resampling = make_resampling(y, prof.task != "regression", 0)
                resampling, _ = plan_bagging(resampling, y, rec, settings, None, messages)
                resampling, _ = subsample(resampling, y, rec, settings, None, messages)
                plan = (f"{resampling.kept_folds}-fold bags" if resampling.bagged else
                        f"{resampling.n_splits // resampling.repeats}-fold cv x{resampling.repeats}"
                        if resampling.kind == "cv" else resampling.kind)
                trained = len(resampling.splits[0][0])
                out.append({"dataset": name, "rows": prof.n_rows, "budget": budget, "costs": label,
                            "lead": rec.best.framework, "lead_s_per_fit": round(rec.best.seconds_per_fit, 2),
                            "too_slow": ",".join(e.framework for e in rec.excluded if "too slow" in e.reason),
                            "plan": plan, "trial_rows": trained})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS))
    ap.add_argument("--rows", type=int, nargs="+", default=list(LADDER), help="the ladder of training rows")
    ap.add_argument("--cap", type=float, default=90.0, help="a fit's deadline in seconds (a trial's cap)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads per fit (1: the cost model's unit; more measures the speed-up against the "
                         "one-thread fits of the same sizes already in --out)")
    ap.add_argument("--dataset", default="scale", help="'scale' (generated, 1M+ rows) or a suite dataset")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--out", type=Path, default=RESULTS / "cost_growth.jsonl")
    ap.add_argument("--ship", action="store_true",
                    help=f"only write {GROWTH_FILE.name} (what the recommender reads) from --out's fits")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a framework, measured in this process
    ap.add_argument("--plans", nargs="+", metavar="DATASET",
                    help="only print what the search would decide on these datasets ('scale' too) with and "
                         "without the shipped row growth, at --budgets; nothing is trained")
    ap.add_argument("--budgets", type=float, nargs="+", default=[60.0, 300.0], help="for --plans")
    ap.add_argument("--recheck", action="store_true",
                    help="only print --out's fits against the shipped cost model's predictions now (nothing is fitted)")
    args = ap.parse_args(argv)
    if args.recheck:
        print(f"Command: python -m benchmarks.cost_growth --recheck --dataset {args.dataset} (at {source_commit()}); "
              "cut: the fit reached the cap, so its seconds are a lower bound\n")
        print(recheck(args.out, args.dataset, args.suite).to_string(index=False))
        return 0
    if args.plans:
        table = plans(args.plans, args.budgets, args.suite)
        report = "\n".join([f"Command: python -m benchmarks.cost_growth --plans {' '.join(args.plans)} --budgets "
                            f"{' '.join(f'{b:g}' for b in args.budgets)} (at {source_commit()})", "", "```",
                            table.to_string(index=False), "```", ""])
        args.out.with_name(f"{args.out.stem}_plans.md").write_text(report)
        print(report)
        return 0
    if args.ship:
        shipped = ship(args.out, args.dataset, GROWTH_FILE)
        print(f"wrote {GROWTH_FILE}: beyond {shipped.rows:,.0f} rows, seconds ~ rows^b with b = {shipped.exponent}")
        return 0
    ladder = sorted(args.rows)
    if args.one:
        measure_one(args.one, args.dataset, ladder, args.cap, args.suite, args.threads)
        return 0
    commit, date, rows = source_commit(), time.strftime("%Y-%m-%d"), []
    for framework in args.frameworks:
        cmd = [sys.executable, "-m", "benchmarks.cost_growth", "--one", framework, "--dataset", args.dataset,
               "--cap", str(args.cap), "--suite", str(args.suite), "--threads", str(args.threads),
               "--rows", *map(str, ladder)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        found = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0:
            print(f"{framework}: failed after {len(found)} fits\n{done.stderr[-2000:]}", file=sys.stderr)
        for row in found:
            row.update(commit=commit, date=date)
            print(f"{framework:<9} {row['family']:<8} {row['rows']:>9,} rows: {row['seconds']:7.1f}s"
                  f"{' (cut)' if row['cut'] else ''}; learned {row['learned_s']}s, per trial "
                  f"{row['learned_trial_s']}s, rules {row['rules_s']}s", flush=True)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
        rows += found
    if not rows:
        return 1
    table = growth(pd.DataFrame(rows))
    threads = "one thread" if args.threads == 1 else f"{args.threads} threads"
    report = "\n".join([
        f"Command: python -m benchmarks.cost_growth --dataset {args.dataset} --frameworks {' '.join(args.frameworks)} "
        f"--rows {' '.join(map(str, ladder))} --cap {args.cap:g} --threads {args.threads} (at {commit}, {date})", "",
        f"Per framework: one fit of its first default configuration on {threads}, then predicting rows/4; "
        "exponent b of seconds ~ rows^b from 10,000 rows up; each size: seconds (* cut at the cap) and "
        "(x measured / learned prediction).", "", "```", table.to_string(), "```", "",
    ])
    if args.threads > 1:
        every = pd.DataFrame([json.loads(x) for x in args.out.read_text().splitlines() if x.strip()])
        gains = speedups(every[every.dataset == args.dataset])
        if not gains.empty:
            report += "\n".join(["Speed-up against the latest one-thread fit of the same size in "
                                  f"{args.out.name}:", "", "```", gains.to_string(index=False), "```", ""])
    with args.out.with_suffix(".md").open("a") as f:  # one section per invocation
        f.write("\n" + report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
