"""Mine a warm-start portfolio: a few configurations per framework that are strong across datasets.

Every candidate (each framework's default configurations plus random draws from its own search
space) is scored with 3-fold cross-validation on a stratified sample of PMLB datasets, never on
the development suite or its near-duplicates. Then, per task group, a greedy zero-shot selection
(Auto-sklearn 2 style) picks the configurations that maximise the mean over datasets of the best
normalised score among those chosen, and writes them to ``search_spaces/portfolio.json``.

Mining is incremental: each (dataset, candidate) score is appended to
``benchmarks/results/portfolio_runs.jsonl`` as it finishes, and pairs already there are skipped,
so an interrupted run resumes where it stopped. Use one core:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m benchmarks.portfolio
    python -m benchmarks.portfolio --select-only      # re-select from the cache, no fitting
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

POOL = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "pmlb"
RESULTS = Path(__file__).resolve().parent / "results"
RUNS = RESULTS / "portfolio_runs.jsonl"
PORTFOLIO_JSON = Path(__file__).resolve().parents[1] / "search_spaces" / "portfolio.json"
FORMAT_VERSION = 1

#: Datasets larger than this are left out; the rest are subsampled to ROWS_CAP rows.
MAX_ROWS = 20_000
ROWS_CAP = 2_000
FOLDS = 3
#: Seconds one fold's fit may take; iterative learners stop growing at the deadline.
FIT_CAP_SECONDS = 20.0
#: Classes with fewer rows than this (after subsampling) are dropped so every fold sees them all.
MIN_CLASS_ROWS = 2 * FOLDS
#: Candidate id of the constant predictor every dataset is also scored with (normalisation 0).
BASELINE = "baseline/constant"
#: Task groups of the portfolio: binary and multiclass share one search space, so one group.
GROUPS = {"binary": "classification", "multiclass": "classification", "regression": "regression"}

#: PMLB datasets that are, or are variants of, a development-suite dataset: never mined.
EXCLUDED: dict[str, str] = {
    "iris": "dev iris",
    "breast_cancer_wisconsin": "dev breast_cancer (WDBC)",
    "wdbc": "dev breast_cancer (WDBC)",
    "breast_w": "Wisconsin breast cancer (original), variant of dev breast_cancer",
    "breast": "Wisconsin breast cancer (original), variant of dev breast_cancer",
    "breast_cancer": "same name as dev breast_cancer (Ljubljana data, excluded to be safe)",
    "diabetes": "Pima diabetes; name clash with dev diabetes",
    "pima": "Pima diabetes, variant of diabetes",
    "penguins": "dev penguins",
    "german": "dev credit_g",
    "credit_g": "dev credit_g",
    "phoneme": "dev phoneme",
    "hypothyroid": "thyroid variant of dev sick",
    "allbp": "thyroid variant of dev sick",
    "allhyper": "thyroid variant of dev sick",
    "allhypo": "thyroid variant of dev sick",
    "allrep": "thyroid variant of dev sick",
    "dis": "thyroid variant of dev sick",
    "ann_thyroid": "thyroid variant of dev sick",
    "new_thyroid": "thyroid data, excluded with the dev sick variants",
    "mfeat_factors": "dev mfeat_factors",
    "mfeat_fourier": "mfeat variant of dev mfeat_factors",
    "mfeat_karhunen": "mfeat variant of dev mfeat_factors",
    "mfeat_morphological": "mfeat variant of dev mfeat_factors",
    "mfeat_pixel": "mfeat variant of dev mfeat_factors",
    "mfeat_zernike": "mfeat variant of dev mfeat_factors",
    "4544_GeographicalOriginalofMusic": "dev geographical_music",
    "adult": "dev adult",
    "537_houses": "dev california_houses",
}


# ---------------------------------------------------------------------------------------------
# Datasets


def _family_key(name: str) -> str:
    """Groups generated series (Friedman, GAMETES, BNG, ...) so the sample does not fill with one."""
    base = re.sub(r"^\d+_", "", name)
    for prefix in ("fri_c", "GAMETES", "BNG", "analcatdata", "sleuth", "Hill_Valley", "monk", "parity",
                   "waveform", "led", "heart", "cars", "prnn", "solar_flare", "cleve", "spect", "cpu",
                   "visualizing", "autoPrice", "auto_price", "clean", "wine", "chscase", "rmftsa"):
        if base.lower().startswith(prefix.lower()):
            return prefix.lower()
    return base.lower()


def eligible(manifest: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """PMLB entries that may be mined: not a dev-suite variant, at most MAX_ROWS rows."""
    return [dict(e) for e in manifest if e["name"] not in EXCLUDED and e["rows"] <= MAX_ROWS]


def choose_datasets(entries: list[dict[str, Any]], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """A deterministic sample of ``n`` entries, equal shares per task, at most two per family."""
    rng = np.random.default_rng(seed)
    tasks = ("binary", "multiclass", "regression")
    picked: list[list[dict[str, Any]]] = []
    for i, task in enumerate(tasks):
        share = n // len(tasks) + (1 if i < n % len(tasks) else 0)
        pool = sorted((e for e in entries if e["task"] == task), key=lambda e: e["name"])
        order = rng.permutation(len(pool))
        per_family: dict[str, int] = {}
        chosen = []
        for j in order:
            e = pool[j]
            key = _family_key(e["name"])
            if per_family.get(key, 0) >= 2 or e["rows"] < 60:
                continue
            per_family[key] = per_family.get(key, 0) + 1
            chosen.append(e)
            if len(chosen) == share:
                break
        picked.append(chosen)
    # Round-robin over tasks, so a run cut short still covers every task group.
    return [e for row in zip_longest(*picked) for e in row if e is not None]


def load_dataset(entry: Mapping[str, Any], pool: Path = POOL, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target, subsampled to ROWS_CAP rows (stratified), rare classes dropped."""
    df = pd.read_csv(pool / entry["file"], sep="\t")
    target = entry["target"]
    classification = entry["task"] != "regression"
    if len(df) > ROWS_CAP:
        if classification:
            from sklearn.model_selection import train_test_split

            counts = df[target].value_counts()
            strat = df[target].where(df[target].map(counts) >= 2, other=-1)
            df, _ = train_test_split(df, train_size=ROWS_CAP, random_state=seed, stratify=strat)
        else:
            df = df.sample(n=ROWS_CAP, random_state=seed)
    if classification:
        counts = df[target].value_counts()
        df = df[df[target].map(counts) >= MIN_CLASS_ROWS]
    df = df.reset_index(drop=True)
    return df.drop(columns=[target]), df[target]


# ---------------------------------------------------------------------------------------------
# Candidates


def mining_frameworks() -> list[str]:
    """Installed, non-network frameworks (networks are too slow to mine on one core)."""
    from search_spaces import adapter_names, get_adapter

    out = []
    for name in adapter_names():
        adapter = get_adapter(name)
        if not adapter.network and adapter.is_installed():
            out.append(name)
    return out


def draw_spec(task: str) -> Any:
    """The all-numeric spec candidates are drawn with (PMLB has no string categoricals)."""
    from search_spaces import FeatureSpec

    return FeatureSpec(task=task, n_rows=ROWS_CAP, numeric=("x0", "x1"), n_classes=3 if task == "multiclass"
                       else (2 if task == "binary" else 0))


def candidates(task: str, frameworks: list[str], n_random: int | Mapping[str, int],
               seed: int = 0) -> list[tuple[str, Any]]:
    """``(candidate id, Config)`` pairs: each framework's defaults, then random draws from its space.

    ``n_random`` is one count for all frameworks or a count per framework.

    The same ids name the same parameters for binary and multiclass (the spaces do not differ),
    so the two tasks pool into one classification group.
    """
    import optuna

    from search_spaces import get_adapter

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = draw_spec(task)
    out: list[tuple[str, Any]] = []
    for k, name in enumerate(frameworks):
        adapter = get_adapter(name)
        out.extend((f"{name}/d{i}", c) for i, c in enumerate(adapter.default_configs(spec)))
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed * 1000 + k))
        draws = n_random if isinstance(n_random, int) else n_random[name]
        for j in range(draws):
            trial = study.ask()
            trial.suggest_categorical("framework", [name])
            out.append((f"{name}/r{j:02d}", adapter.suggest(trial, spec)))
            study.tell(trial, 0.0)
    return out


# ---------------------------------------------------------------------------------------------
# Evaluation


def _splits(y: pd.Series, classification: bool, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    cv = StratifiedKFold if classification else KFold
    return list(cv(n_splits=FOLDS, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def cross_validate(make: Callable[[], Any], X: pd.DataFrame, y: pd.Series, splits: list, scorer: Any) -> dict:
    """Mean fold score (greater is better), fit seconds and whether any fit hit the cap."""
    import warnings

    from threadpoolctl import threadpool_limits

    from search_spaces import fit_budget

    scores, seconds, truncated = [], 0.0, False
    for tr, va in splits:
        model = make()
        started = time.monotonic()
        with fit_budget(started + FIT_CAP_SECONDS), threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X.iloc[tr], y.iloc[tr])
            seconds += time.monotonic() - started
            scores.append(float(scorer(model, X.iloc[va], y.iloc[va])))
        last = model[-1] if hasattr(model, "steps") else model
        truncated = truncated or bool(getattr(last, "truncated_", False))
    score = float(np.mean(scores))
    return {"score": score if math.isfinite(score) else None, "fit_seconds": round(seconds, 3),
            "truncated": truncated}


def _done(path: Path) -> set[tuple[str, str]]:
    if not path.exists():
        return set()
    out = set()
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out.add((r["dataset"], r["candidate"]))
    return out


def mine(entries: list[dict[str, Any]], frameworks: list[str], n_random: int | Mapping[str, int], *,
         runs: Path = RUNS,
         max_minutes: float | None = None) -> None:
    """Score every candidate on every entry, appending to ``runs``; pairs already there are skipped."""
    from sklearn.base import clone
    from sklearn.dummy import DummyClassifier, DummyRegressor

    from automl.metrics import resolve_metric
    from recommender import profile_dataset
    from search_spaces import get_adapter

    stop_at = None if max_minutes is None else time.monotonic() + 60 * max_minutes
    runs.parent.mkdir(parents=True, exist_ok=True)
    done = _done(runs)
    by_task = {t: candidates(t, frameworks, n_random) for t in ("binary", "multiclass", "regression")}
    for n, entry in enumerate(entries, 1):
        task = entry["task"]
        todo = [(cid, c) for cid, c in [(BASELINE, None), *by_task[task]] if (entry["name"], cid) not in done]
        if not todo:
            continue
        X, y = load_dataset(entry)
        spec = profile_dataset(pd.concat([X, y], axis=1), y.name, task=task).feature_spec()
        metric = resolve_metric(None, task)
        scorer = metric.scorer()
        splits = _splits(y, task != "regression")
        print(f"[{n}/{len(entries)}] {entry['name']} ({task}, {len(y)} rows): {len(todo)} to do", flush=True)
        for cid, config in todo:
            if stop_at is not None and time.monotonic() > stop_at:
                print("stopping: --max-minutes reached", flush=True)
                return
            record: dict[str, Any] = {"dataset": entry["name"], "task": task, "rows": len(y),
                                      "metric": metric.name, "candidate": cid}
            if config is None:
                dummy = DummyRegressor() if task == "regression" else DummyClassifier(strategy="prior")

                def make(d: Any = dummy) -> Any:
                    return clone(d)
            else:
                record.update(framework=config.framework, family=config.family, params=config.params)
                est = get_adapter(config.framework).build(config, spec, device="cpu", seed=0, n_jobs=1)

                def make(e: Any = est) -> Any:
                    return clone(e)
            try:
                record.update(cross_validate(make, X, y, splits, scorer))
            except Exception as e:  # a failing candidate scores like the worst; the run goes on
                record.update(score=None, fit_seconds=None, error=f"{type(e).__name__}: {e}"[:300])
            with runs.open("a") as f:
                f.write(json.dumps(record) + "\n")
        print(f"    done in the cache: {len(_done(runs))} pairs", flush=True)


# ---------------------------------------------------------------------------------------------
# Selection (pure functions of a score table)


def normalise(scores: Mapping[str, Mapping[str, float | None]], baseline: Mapping[str, float]) -> dict:
    """Per dataset, ``(s - constant) / (best - constant)`` clipped at 0; failures count as 0.

    The constant predictor anchors 0 (as in the project README's peer figures) rather than the
    worst candidate, so one degenerate candidate (say 1-NN under log loss) cannot squash the
    rest. Datasets where nothing beats the constant carry no signal and are left out.
    """
    out: dict[str, dict[str, float]] = {}
    for ds, row in scores.items():
        finite = [s for s in row.values() if s is not None and math.isfinite(s)]
        if not finite or ds not in baseline:
            continue
        base, best = baseline[ds], max(finite)
        if best - base <= 1e-12:
            continue
        out[ds] = {c: (max(0.0, (s - base) / (best - base)) if s is not None and math.isfinite(s) else 0.0)
                   for c, s in row.items()}
    return out


def greedy_portfolio(norm: Mapping[str, Mapping[str, float]], framework_of: Mapping[str, str], k: int,
                     max_per_framework: int, cost: Mapping[str, float] | None = None,
                     tolerance: float = 0.1, start: Iterable[str] = ()) -> list[str]:
    """Greedy zero-shot portfolio: each step adds the candidate that most raises the mean, over
    datasets, of the best normalised score among those chosen.

    ``start`` counts as chosen already (the defaults the search always tries first), so the picks
    complement it; it is not part of the result. Candidates whose gain is within ``tolerance`` of
    the best gain (relative: 0.1 is 10%) count as tied and the cheapest (``cost``: seconds) wins,
    so cheap configurations come first. Stops at ``k`` picks or when no candidate adds anything.
    """
    datasets = list(norm)
    names = sorted({c for row in norm.values() for c in row})
    if not datasets or not names:
        return []
    matrix = np.array([[norm[d].get(c, 0.0) for c in names] for d in datasets])
    given = [names.index(c) for c in start if c in names]
    current = matrix[:, given].max(axis=1) if given else np.zeros(len(datasets))
    chosen: list[str] = []
    per_fw: dict[str, int] = {}
    while len(chosen) < k:
        gains = np.maximum(matrix, current[:, None]).mean(axis=0) - current.mean()
        allowed = [i for i, c in enumerate(names) if c not in chosen and i not in given
                   and per_fw.get(framework_of[c], 0) < max_per_framework]
        if not allowed:
            break
        top = max(gains[i] for i in allowed)
        if top <= 1e-9:
            break
        tied = [i for i in allowed if gains[i] >= top * (1.0 - tolerance)]
        pick = min(tied, key=lambda i: ((cost or {}).get(names[i], 0.0), -gains[i], names[i]))
        chosen.append(names[pick])
        per_fw[framework_of[names[pick]]] = per_fw.get(framework_of[names[pick]], 0) + 1
        current = np.maximum(current, matrix[:, pick])
    return chosen


def portfolio_score(norm: Mapping[str, Mapping[str, float]], chosen: list[str]) -> float:
    """Mean over datasets of the best normalised score among ``chosen``."""
    if not norm:
        return float("nan")
    return float(np.mean([max((norm[d].get(c, 0.0) for c in chosen), default=0.0) for d in norm]))


def leave_one_out(norm: Mapping[str, Mapping[str, float]], select: Callable[[dict], list[str]]) -> float:
    """Mean over datasets d of the portfolio chosen without d, scored on d alone."""
    out = []
    for d in norm:
        rest = {e: row for e, row in norm.items() if e != d}
        out.append(portfolio_score({d: norm[d]}, select(rest)))
    return float(np.mean(out)) if out else float("nan")


def _read_runs(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def select(runs: list[dict[str, Any]], k: int, max_per_framework: int | None) -> dict[str, Any]:
    """The portfolio per task group, with in-sample and leave-one-dataset-out figures."""
    groups: dict[str, Any] = {}
    for group in ("classification", "regression"):
        rows = [r for r in runs if GROUPS[r["task"]] == group]
        candidates_seen = {r["candidate"] for r in rows if r["candidate"] != BASELINE}
        per_ds: dict[str, dict[str, float | None]] = {}
        baseline: dict[str, float] = {}
        for r in rows:
            if r["candidate"] == BASELINE:
                if r["score"] is not None:
                    baseline[r["dataset"]] = r["score"]
            else:
                per_ds.setdefault(r["dataset"], {})[r["candidate"]] = r["score"]
        # Only datasets every candidate finished on: a partial row would bias the selection.
        complete = {d: row for d, row in per_ds.items() if set(row) == candidates_seen}
        norm = normalise(complete, baseline)
        info = {r["candidate"]: r for r in rows if r["candidate"] != BASELINE and "params" in r}
        framework_of = {c: info[c]["framework"] for c in candidates_seen}
        secs: dict[str, list[float]] = {}
        for r in rows:
            if r["candidate"] in framework_of and r.get("fit_seconds") is not None:
                secs.setdefault(r["candidate"], []).append(r["fit_seconds"])
        cost = {c: float(np.median(v)) for c, v in secs.items()}
        n_fw = len(set(framework_of.values())) or 1
        cap = max_per_framework if max_per_framework is not None else max(3, math.ceil(k / n_fw))

        defaults = sorted(c for c in candidates_seen if c.split("/")[1].startswith("d"))

        def alone(table: dict, cap: int = cap, fo: dict = framework_of, cost: dict = cost) -> list[str]:
            return greedy_portfolio(table, fo, k, cap, cost)

        def after_defaults(table: dict, n: int = k, cap: int = cap, fo: dict = framework_of,
                           cost: dict = cost, d: list = defaults) -> list[str]:
            return d + greedy_portfolio(table, fo, n, cap, cost, start=d)

        # The search tries the adapters' defaults first, so the portfolio complements them.
        chosen = after_defaults(norm)[len(defaults):]
        entries = []
        for c in chosen:
            r = info[c]
            # Classification candidates: params as drawn for binary (identical for multiclass).
            entries.append({"framework": r["framework"], "family": r["family"], "params": r["params"],
                            "candidate": c,
                            "mean_normalised_score": round(float(np.mean([norm[d].get(c, 0.0) for d in norm])), 4),
                            "median_fit_seconds": round(cost.get(c, float("nan")), 3)})
        groups[group] = {
            "datasets": sorted(norm),
            "portfolio": entries,
            "figures": {
                "n_datasets": len(norm),
                "defaults": defaults,
                "defaults_only": round(portfolio_score(norm, defaults), 4),
                "defaults_plus_portfolio_in_sample": round(portfolio_score(norm, defaults + chosen), 4),
                "defaults_plus_portfolio_lodo": round(leave_one_out(norm, after_defaults), 4),
                "defaults_plus_first_2_lodo": round(leave_one_out(norm, lambda t: after_defaults(t, 2)), 4),
                f"standalone_{k}_in_sample": round(portfolio_score(norm, alone(norm)), 4),
                f"standalone_{k}_lodo": round(leave_one_out(norm, alone), 4),
                "best_single_candidate_lodo": round(leave_one_out(norm, lambda t: alone(t)[:1]), 4),
                "max_per_framework": cap,
            },
        }
    return groups


def _check_same_classification_params(runs: list[dict[str, Any]]) -> None:
    seen: dict[str, Any] = {}
    for r in runs:
        if r["task"] in ("binary", "multiclass") and "params" in r:
            prev = seen.setdefault(r["candidate"], r["params"])
            if prev != r["params"]:
                raise ValueError(f"candidate {r['candidate']} differs between binary and multiclass")


def write_portfolio(groups: dict[str, Any], meta: dict[str, Any], path: Path = PORTFOLIO_JSON) -> None:
    doc = {"format_version": FORMAT_VERSION, "mining": meta,
           "groups": {g: [{k: e[k] for k in ("framework", "family", "params", "mean_normalised_score")}
                          for e in v["portfolio"]] for g, v in groups.items()},
           "figures": {g: v["figures"] for g, v in groups.items()}}
    path.write_text(json.dumps(doc, indent=1) + "\n")


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.portfolio", description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=36, help="how many PMLB datasets to mine (default 36)")
    parser.add_argument("--random", type=int, default=16, help="random configurations per framework (default 16)")
    parser.add_argument("--frameworks", nargs="*", help="default: every installed non-network framework")
    parser.add_argument("--random-for", nargs="*", default=[], metavar="FRAMEWORK=N",
                        help="per-framework random draws, overriding --random (e.g. catboost=0)")
    parser.add_argument("--k", type=int, default=8, help="portfolio size per task group (default 8)")
    parser.add_argument("--max-per-framework", type=int, default=None,
                        help="default: max(3, ceil(k / number of frameworks))")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop mining after this long")
    parser.add_argument("--select-only", action="store_true", help="select from the cache; fit nothing")
    parser.add_argument("--list", action="store_true", help="print the chosen datasets and exit")
    args = parser.parse_args(argv)

    manifest = json.loads((POOL / "manifest.json").read_text())
    entries = choose_datasets(eligible(manifest), args.datasets, seed=0)
    frameworks = args.frameworks or mining_frameworks()
    if args.list:
        for e in entries:
            print(e["name"], e["task"], e["rows"], e["features"])
        return 0
    n_random = {fw: args.random for fw in frameworks}
    for item in args.random_for:
        fw, _, n = item.partition("=")
        if fw not in n_random or not n.isdigit():
            parser.error(f"--random-for takes FRAMEWORK=N with FRAMEWORK one of {', '.join(frameworks)}; "
                         f"got {item!r}")
        n_random[fw] = int(n)
    started = time.monotonic()
    if not args.select_only:
        mine(entries, frameworks, n_random, max_minutes=args.max_minutes)
    if not RUNS.exists():
        print(f"no mining results at {RUNS}", file=sys.stderr)
        return 1
    names = {e["name"] for e in entries}
    # Only this run's candidates: the cache may hold others from runs with other settings.
    ids = {BASELINE} | {cid for t in GROUPS for cid, _ in candidates(t, frameworks, n_random)}
    runs = [r for r in _read_runs(RUNS) if r["dataset"] in names and r["candidate"] in ids]
    _check_same_classification_params(runs)
    groups = select(runs, args.k, args.max_per_framework)
    cands = {}
    for fw in frameworks:
        ids = sorted({r["candidate"] for r in runs if r["candidate"].startswith(fw + "/")})
        cands[fw] = {"defaults": sum(c.split("/")[1].startswith("d") for c in ids),
                     "random": sum(c.split("/")[1].startswith("r") for c in ids)}
    meta = {
        "command": "OMP_NUM_THREADS=1 python -m benchmarks.portfolio "
                   + " ".join(a for a in (sys.argv[1:] if argv is None else argv) if a != "--select-only"),
        "date": datetime.date.today().isoformat(),
        "source": "PMLB pool (shared/datasets/pmlb), never the development suite",
        "datasets": {g: v["datasets"] for g, v in groups.items()},
        "excluded": EXCLUDED,
        "frameworks": frameworks,
        "candidates_per_framework": cands,
        "cv_folds": FOLDS,
        "rows_cap": ROWS_CAP,
        "max_rows": MAX_ROWS,
        "fit_cap_seconds": FIT_CAP_SECONDS,
        "normalisation": "(score - constant predictor) / (best candidate - constant), clipped at 0",
        "selection": ("greedy zero-shot portfolio complementing the adapters' default configurations "
                      "(which the search tries first); gains within 10% of the best gain tie and the cheapest wins; "
                      "stops early when no candidate improves any mined dataset"),
        "metrics": {"binary": "roc_auc", "multiclass": "neg_log_loss", "regression": "neg_root_mean_squared_error"},
    }
    write_portfolio(groups, meta)
    for g, v in groups.items():
        print(f"\n{g}: {v['figures']}")
        for e in v["portfolio"]:
            print(f"  {e['candidate']:14s} {e['family']:12s} norm={e['mean_normalised_score']:.3f} "
                  f"t={e['median_fit_seconds']}s {e['params']}")
    print(f"\nwrote {PORTFOLIO_JSON} ({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
