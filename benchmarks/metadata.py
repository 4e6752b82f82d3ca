"""Build the recommender's meta-dataset: each framework's search, under one small budget, on many datasets.

For each dataset of a pool (PMLB by default, never a development-suite dataset or its twin) and
each framework, ``automl.fit(train, frameworks=[fw], time_budget=B, ensemble=False, n_jobs=1,
seed=0)`` runs in a process of its own, forked from a fork server (which imports the common
modules once) so that the peak memory belongs to that run alone. The fit (portfolio configurations first, as
the search always does) is scored on the benchmark split's test rows (75/25, ``random_state=0``,
stratified; AUC, log loss or RMSE) and appends

- one line per (dataset, framework) to ``benchmarks/results/metadata_runs.jsonl``: the dataset's
  meta-features, the hardware, validation and test scores, seconds per trial, peak memory and
  what the rule-based recommender predicted (fields: :data:`RUN_FIELDS`);
- one line per trial to ``metadata_trials.jsonl`` beside it: model family, configuration, fit
  seconds, folds and rows per fold, what a cost model learns from (joined to its run by
  ``run_id``; trial lines of a run that has no run line were cut short and are ignored).

Once a dataset's frameworks have all run, its normalised test scores are (re)written:
``(s - constant) / (best framework here - constant)``, clipped at 0. The raw scores stay, so
:func:`load_runs` can recompute them.

``--rerun FW`` replaces a framework's rows made when its adapter offered other model families (each
line records ``families``, those the adapter searches on that data, and ``families_tried``, those
its trials fitted): such rows move to ``metadata_runs_superseded.jsonl`` (their trial and CV lines
stay where they are and are ignored, as they belong to no run of the table) and the framework runs
again on those datasets. A rerun on other hardware than the replaced rows keeps its own
``hardware`` and ``hardware_id`` and names the replaced rows' hardware in ``normalise_hardware_id``,
so that its scores are normalised against the other frameworks on the same dataset (the scores are
comparable; the seconds are this machine's).

Resumable: a (dataset, framework) pair already in the table for the same budget and hardware id
is skipped, a failed one too (``--retry-failed`` runs those again). ``--minutes`` stops starting
new datasets after that long, so the table grows in slices; a partial run is a prefix of the full
one (datasets interleave binary, multiclass, regression). Each run takes its budget whatever the
machine does, but other work inflates the recorded seconds (``load_before`` keeps the load
average), so run it alone on the machine. POSIX only (the runs are forked).

    python -m benchmarks.metadata                                  # the full run, about 2 h on 2 cores
    python -m benchmarks.metadata --minutes 30                     # a slice; run it again to go on
    python -m benchmarks.metadata --pool DIR --datasets 10         # any folder with a manifest.json
    python -m benchmarks.metadata --list                           # the planned datasets, nothing run
    python -m benchmarks.metadata --frameworks torch --rerun torch # torch again, with its new families
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import multiprocessing as mp
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import _suite
from benchmarks.portfolio import POOL, RESULTS, _family_key, choose_datasets, eligible
from recommender.meta import meta_features

FORMAT_VERSION = 1
RUNS = RESULTS / "metadata_runs.jsonl"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUDGET = 10.0
#: Every dataset the plan takes from the PMLB pool (equal shares per task, at most two per family:
#: the 43 multiclass datasets bound it); about 2 hours on 2 cores.
DEFAULT_DATASETS = 130
#: Searched by default when installed; autokeras is left out (its import and first trial alone
#: take most of a 10 s budget).
DEFAULT_FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "catboost", "keras", "torch")
#: Seconds a run costs beyond its budget when the table has no measurement yet (fork, scoring,
#: process exit; the fit itself returns about 0.5 s inside its budget): measured 0.1 s, with
#: spikes of 1 to 3 s when niced on a loaded machine.
ASSUMED_OVERHEAD_SECONDS = 0.5
#: A run still going after budget x TIMEOUT_FACTOR + TIMEOUT_EXTRA seconds is killed as hung.
TIMEOUT_FACTOR = 3.0
TIMEOUT_EXTRA = 60.0
#: Classes with fewer rows are dropped before the split, so every class reaches train, test and folds.
MIN_CLASS_ROWS = 10
SAMPLE_SECONDS = 0.1
#: PMLB near-duplicates that the family key misses (same data under two names, or one study's
#: series); one group, so that grouped cross-validation never lets a twin predict its twin.
TWINS = {
    "cleve": "heart", "cleveland": "heart", "cleveland_nominal": "heart", "hungarian": "heart",
    "heart_c": "heart", "heart_h": "heart", "heart_statlog": "heart",
    "colic": "colic", "horse_colic": "colic",
    "glass": "glass", "glass2": "glass", "prnn_fglass": "glass",
    "house_votes_84": "vote", "vote": "vote",
    "satellite_image": "satimage", "satimage": "satimage",
    "agaricus_lepiota": "mushroom", "mushroom": "mushroom",
    "machine_cpu": "cpu", "cpu": "cpu",
    "auto_price": "autoprice", "autoPrice": "autoprice", "auto": "autoprice",
    "pm10": "air_pollution", "no2": "air_pollution",
    "flare": "solar_flare",
}
RUN_FIELDS = (
    "format_version", "run_id", "status", "reason", "pool", "dataset", "group", "task", "rows", "train_rows",
    "test_rows", "features", "dropped_rare_class_rows", "framework", "budget", "n_jobs", "seed", "hardware_id",
    "hardware", "load_before", "nice", "meta", "validation", "fits_per_trial", "fold_train_rows", "subsample_rows",
    "n_trials", "n_complete", "n_pruned", "n_failed", "n_truncated", "best_family", "val_metric", "val_score",
    "metric", "higher_is_better", "test", "test_score", "constant_score", "best_test_score", "normalised_score",
    "seconds_per_trial_mean", "seconds_per_trial_median", "fold_seconds_median", "fit_wall_seconds",
    "predict_seconds", "run_wall_seconds", "overhead_seconds", "baseline_mb", "peak_mb", "maxrss_mb",
    "peak_threads", "rule_based", "messages", "automl_commit", "code_dirty", "versions", "date", "command",
    "families", "families_tried", "normalise_hardware_id", "supersedes",
)
#: Columns :func:`join_cv` adds to the run table.
CV_COLUMNS = ("cv_score", "cv_constant", "cv_folds", "normalised_cv")
TRIAL_FIELDS = (
    "run_id", "pool", "dataset", "framework", "budget", "hardware_id", "task", "n_rows", "n_features",
    "n_classes", "trial", "state", "enqueued", "family", "config", "value", "fit_seconds", "fold_seconds",
    "folds", "n_splits", "fold_train_rows", "truncated", "device", "duration_seconds", "failure",
)


# ---------------------------------------------------------------------------------------------
# Datasets


def group_of(name: str) -> str:
    """The near-duplicate group of a dataset: its TWINS entry, else its family key."""
    base = name.split("_", 1)[1] if name.split("_", 1)[0].isdigit() else name
    return TWINS.get(base) or TWINS.get(name) or _family_key(name)


def plan_datasets(pool: Path, n: int) -> list[dict[str, Any]]:
    """``n`` manifest entries in a fixed order: not dev-suite twins, at most 20,000 rows, a family-
    stratified sample interleaving binary, multiclass and regression (a shorter plan is a prefix)."""
    entries = eligible(_suite.read_manifest(pool))
    # The whole pool's order, cut: any n gives a prefix of any larger n's plan.
    return choose_datasets(entries, len(entries), seed=0)[:n]


def load_split(entry: Mapping[str, Any], pool: Path) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(train, test, rows dropped from classes under MIN_CLASS_ROWS) under the benchmark split."""
    from sklearn.model_selection import train_test_split

    path = Path(pool) / entry["file"]
    df = pd.read_csv(path, sep="\t" if ".tsv" in path.name else ",")
    target = entry["target"]
    df = df[df[target].notna()]
    dropped = 0
    if entry["task"] != "regression":
        counts = df[target].value_counts()
        keep = df[target].map(counts) >= MIN_CLASS_ROWS
        dropped = int((~keep).sum())
        df = df[keep]
        if df[target].nunique() < 2:
            raise ValueError(f"fewer than 2 classes with {MIN_CLASS_ROWS} rows or more")
    df = df.reset_index(drop=True)
    stratify = df[target] if entry["task"] != "regression" else None
    train, test = train_test_split(df, test_size=0.25, random_state=0, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True), dropped


# ---------------------------------------------------------------------------------------------
# Profiles


def hardware_info() -> dict[str, Any]:
    """Cores, memory and GPUs, with a stable id (a hash of the CPU model, cores, RAM and GPU names)."""
    from recommender import detect_hardware

    hw = detect_hardware()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu_model": cpu, "physical_cores": hw.physical_cores, "logical_cores": hw.logical_cores,
        "ram_gb": round(hw.ram_total_gb), "gpus": len(hw.gpus), "gpu_names": [g.name for g in hw.gpus],
        "gpu_memory_mb": [g.memory_mb for g in hw.gpus],
    }
    info["hardware_id"] = hashlib.sha1(json.dumps(info, sort_keys=True).encode()).hexdigest()[:12]
    return info


def _code_state() -> tuple[str | None, bool | None]:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "automl", "search_spaces", "recommender"],
                               cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return head.stdout.strip(), bool(dirty.stdout.strip())


def _versions(framework: str) -> dict[str, str | None]:
    import importlib.metadata as md

    from recommender import detect_hardware

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("optuna", "scikit-learn", "numpy", "pandas"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    status = detect_hardware().frameworks.get(framework)
    out[framework] = status.version if status else None
    return out


# ---------------------------------------------------------------------------------------------
# One run, in a forked process


def _summarise(result: Any, framework: str, train: pd.DataFrame, task: str) -> dict[str, Any]:
    """What the run line and the trial lines keep of a fitted result."""
    import optuna

    from automl.search._resampling import fits_per_trial, make_resampling

    y = train["target"]
    resampling = make_resampling(y, task != "regression", 0)
    # The same splits, whether the search refitted or kept the fold models (small data's default).
    same_plan = result.validation in (resampling.describe(), replace(resampling, bagged=True).describe())
    fold_rows = float(np.mean([len(tr) for tr, _ in resampling.splits])) if same_plan else None
    # On a large holdout the search may train its trials on a sample of the training rows.
    spec = result.study.user_attrs.get("automl_spec") or {} if result.study is not None else {}
    subsample = spec.get("subsample_rows")
    if subsample and same_plan:
        fold_rows = float(subsample)
    trials = []
    for t in result.study.trials if result.study is not None else []:
        if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING):
            continue
        a = t.user_attrs
        took = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        trials.append({
            "trial": t.number, "state": t.state.name, "enqueued": "fixed_params" in t.system_attrs,
            "family": a.get("family"), "config": a.get("config"), "value": t.value,
            "fit_seconds": a.get("fit_seconds"), "fold_seconds": a.get("fold_seconds"), "folds": a.get("folds"),
            "n_splits": resampling.n_splits if same_plan else None, "fold_train_rows": fold_rows,
            "truncated": a.get("truncated"), "device": a.get("device"),
            "duration_seconds": None if took is None else round(took, 4),
            "failure": (a.get("failure") or None) and str(a["failure"])[:300],
        })
    done = [t for t in trials if t["state"] == "COMPLETE" and t["fit_seconds"] is not None]
    secs = [t["fit_seconds"] for t in done]
    cand = next((c for c in result.recommendation.candidates if c.framework == framework), None)
    return {
        "meta": meta_features(result.profile), "validation": result.validation,
        "fits_per_trial": fits_per_trial(len(y)), "fold_train_rows": fold_rows, "subsample_rows": subsample,
        "n_trials": len(trials), "n_complete": len(done),
        "n_pruned": sum(t["state"] == "PRUNED" for t in trials), "n_failed": sum(t["state"] == "FAIL" for t in trials),
        "n_truncated": sum(bool(t["truncated"]) for t in trials),
        "best_family": result.best_model_family, "val_metric": result.metric.name, "val_score": result.best_score,
        "seconds_per_trial_mean": round(float(np.mean(secs)), 4) if secs else None,
        "seconds_per_trial_median": round(float(np.median(secs)), 4) if secs else None,
        "fold_seconds_median": round(float(np.median([t["fold_seconds"] for t in done])), 4) if done else None,
        "rule_based": None if cand is None else {
            "score": round(cand.score, 4), "seconds_per_trial": round(cand.seconds_per_trial, 4),
            "seconds_per_fit": round(cand.seconds_per_fit, 4), "device": cand.device},
        "messages": [str(m)[:200] for m in result.messages[:5]],
        "families_tried": list(dict.fromkeys(t["family"] for t in trials if t["family"])),
        "trials": trials,
    }


def fit_and_score(train: pd.DataFrame, test: pd.DataFrame, task: str, framework: str, budget: float,
                  report: Any = None) -> dict[str, Any]:
    """One framework's search on ``train``, scored on ``test`` (``report(rss_bytes)`` just before the fit)."""
    import psutil

    import automl

    if report is not None:
        report(psutil.Process().memory_info().rss)
    started = time.monotonic()
    result = automl.fit(train, "target", frameworks=[framework], task=task, time_budget=budget, ensemble=False,
                        verbosity=0, seed=0, n_jobs=1)
    fitted = time.monotonic()
    features = test.drop(columns=["target"])
    if task == "regression":
        test_metrics = _suite.score(task, test["target"], result.predict(features), None, None)
    else:
        proba = result.predict_proba(features)
        test_metrics = _suite.score(task, test["target"], None, proba.to_numpy(), list(proba.columns))
    out = _summarise(result, framework, train, task)
    out.update(test=test_metrics, fit_wall_seconds=round(fitted - started, 3),
               predict_seconds=round(time.monotonic() - fitted, 3))
    return out


def _child(conn: Any, train: pd.DataFrame, test: pd.DataFrame, task: str, framework: str, budget: float,
           log: str, work: Any = None) -> None:
    """The forked process: output to ``log``, one ("start", rss) and one ("done" | "error", payload)."""
    import resource
    import warnings

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler is for the parent
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    try:
        out = (work or fit_and_score)(train, test, task, framework, budget,
                                      report=lambda rss: conn.send(("start", rss)))
        out["maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        conn.send(("done", out))
    except BaseException as e:  # the parent records it as this pair's failure and goes on
        traceback.print_exc()
        conn.send(("error", f"{type(e).__name__}: {e}"[:500]))
    finally:
        conn.close()
        sys.stdout.flush()


def _tree_usage(proc: Any) -> tuple[int, int]:
    """(RSS bytes, threads) of a process and its descendants."""
    import psutil

    rss = threads = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            rss += p.memory_info().rss
            threads += p.num_threads()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return rss, threads


def _context() -> Any:
    """Children forked from a fork server that has imported the common modules once: a plain fork of
    this process could inherit OpenMP or BLAS thread pools in use (a hang), spawning pays the imports."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["automl", "automl.api", "sklearn.ensemble"])
    return ctx


def run_in_child(train: pd.DataFrame, test: pd.DataFrame, task: str, framework: str, budget: float,
                 timeout: float, work: Any = None) -> dict[str, Any]:
    """Fork, run :func:`fit_and_score` there and watch its memory every SAMPLE_SECONDS.

    Returns its summary with ``status`` "ok", or ``status`` "failed" and a ``reason`` (an exception,
    a crash, or a hang past ``timeout`` seconds). The data reach it pickled.
    """
    import psutil

    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    with tempfile.NamedTemporaryFile(prefix=f"metadata_{framework}_", suffix=".log", delete=False) as f:
        log = f.name
    started = time.monotonic()
    proc = ctx.Process(target=_child, args=(child, train, test, task, framework, budget, log, work))
    proc.start()
    child.close()
    watched = psutil.Process(proc.pid)
    peak = threads = 0
    baseline: int | None = None
    message: tuple[str, Any] | None = None
    try:
        while message is None:
            try:
                rss, n = _tree_usage(watched)
            except psutil.NoSuchProcess:
                rss, n = 0, 0
            peak, threads = max(peak, rss), max(threads, n)
            if parent.poll(SAMPLE_SECONDS):
                try:
                    kind, payload = parent.recv()
                except EOFError:
                    break
                if kind == "start":
                    baseline = payload
                else:
                    message = (kind, payload)
            elif not proc.is_alive() and not parent.poll(0):
                break
            if time.monotonic() - started > timeout:
                break
        if message is None:  # hung past the timeout, or the pipe broke: nothing more to wait for
            proc.kill()
        proc.join(timeout=10)  # a finished run's exit (TensorFlow takes a moment to tear down)
    finally:  # also on Ctrl-C or SIGTERM: no run outlives this process, no log is left behind
        if proc.is_alive():
            proc.kill()
            proc.join()
        parent.close()
        tail = Path(log).read_text(errors="replace")[-400:].strip()
        Path(log).unlink(missing_ok=True)
    wall = time.monotonic() - started
    memory = {"baseline_mb": None if baseline is None else round(baseline / 2**20, 1),
              "peak_mb": round(peak / 2**20, 1), "peak_threads": threads, "run_wall_seconds": round(wall, 2)}
    if message is not None and message[0] == "done":
        out = {"status": "ok", **message[1], **memory}
        out["overhead_seconds"] = round(wall - out["fit_wall_seconds"], 2)
        return out
    if message is not None:
        reason = message[1]
    elif wall > timeout:
        reason = f"timeout: still running after {timeout:.0f} s (killed)"
    else:
        reason = f"crashed (exit code {proc.exitcode})" + (f": ...{tail[-300:]}" if tail else "")
    return {"status": "failed", "reason": reason, **memory}


# ---------------------------------------------------------------------------------------------
# The table


def _read(path: Path) -> list[dict[str, Any]]:
    """The lines of a JSONL file; a line cut short by a crash is skipped (its pair runs again)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _key(r: Mapping[str, Any]) -> tuple:
    return r["pool"], r["dataset"], r["framework"], float(r["budget"]), r["hardware_id"]


def _norm_key(r: Mapping[str, Any]) -> tuple:
    """The rows a run is normalised with: same dataset and budget, same hardware (or the hardware of
    the rows a rerun replaced, :data:`normalise_hardware_id`)."""
    return r["pool"], r["dataset"], float(r["budget"]), r.get("normalise_hardware_id") or r["hardware_id"]


def families_of(framework: str, task: str, train_rows: int) -> list[str] | None:
    """The model families ``framework``'s adapter searches on ``train_rows`` rows of ``task`` (None if unknown)."""
    from search_spaces import adapter_names, get_adapter
    from search_spaces._spec import FeatureSpec

    if framework not in adapter_names():
        return None
    return list(get_adapter(framework).families(FeatureSpec(task=task, n_rows=int(train_rows))))  # type: ignore[arg-type]


def superseded_path(runs: Path) -> Path:
    """Where ``--rerun`` keeps the rows it replaced."""
    return runs.with_name(runs.stem + "_superseded" + runs.suffix)


def supersede(out: Path, frameworks: Iterable[str]) -> dict[tuple, dict[str, Any]]:
    """Move the rows of ``frameworks`` whose ``families`` differ from what the adapter offers now to
    :func:`superseded_path`; returns every superseded row (earlier calls' too) by (pool, dataset,
    framework, budget)."""
    archive = superseded_path(out)
    rows, keep, moved = _read(out), [], []
    fws = set(frameworks)
    for r in rows:
        stale = r["framework"] in fws and r.get("families") != families_of(r["framework"], r["task"],
                                                                            r.get("train_rows") or 0)
        (moved if stale else keep).append(r)
    if moved:
        stamp = datetime.date.today().isoformat()
        _append(archive, [{**r, "superseded": stamp} for r in moved])
        _rewrite(out, normalise(keep))
        print(f"--rerun: {len(moved)} row(s) of {', '.join(sorted(fws))} moved to {archive}", flush=True)
    return {(r["pool"], r["dataset"], r["framework"], float(r["budget"])): r for r in _read(archive)}


def normalise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill ``best_test_score`` and ``normalised_score`` per (pool, dataset, budget, hardware).

    ``(s - constant) / (best - constant)`` clipped at 0, best over this table's successful runs
    on that dataset; None for failed runs and where no framework beats the constant predictor.
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(_norm_key(r), []).append(r)
    for members in groups.values():
        ok = [r for r in members if r["status"] == "ok" and r.get("test_score") is not None
              and math.isfinite(r["test_score"])]
        sign = 1.0 if members[0]["higher_is_better"] else -1.0
        best = max((r["test_score"] for r in ok), key=lambda s: sign * s, default=None)
        for r in members:
            r["best_test_score"] = best
            r["normalised_score"] = None
        if best is None or sign * (best - ok[0]["constant_score"]) <= 0:
            continue  # nothing beats the constant predictor: no signal to normalise
        for r in ok:
            r["normalised_score"] = round(max(0.0, _suite.normalised(r["test_score"], r["constant_score"], best)), 6)
    return rows


def _rewrite(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace ``path`` by ``rows`` atomically: a crash leaves the old file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, path)


def refresh_normalised(path: Path) -> None:
    """Rewrite ``path`` with its normalised scores recomputed."""
    _rewrite(path, normalise(_read(path)))


def cv_path(runs: Path) -> Path:
    """Where ``python -m benchmarks.metadata_cv`` keeps the cross-validated scores of a run table's runs."""
    return runs.with_name(runs.name.replace("runs", "cv") if "runs" in runs.name else runs.stem + "_cv.jsonl")


def join_cv(rows: list[dict[str, Any]], cv_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``cv_score``, ``cv_constant``, ``cv_folds`` and ``normalised_cv`` to ``rows`` (by ``run_id``).

    ``normalised_cv`` is normalised per (pool, dataset, budget, hardware) as :func:`normalise` does
    the holdout scores, over the runs that have a cross-validated score: ``(s - constant) / (best -
    constant)`` clipped at 0, with the constant predictor scored on the same folds; None where a run
    has no score or no framework beats the constant predictor."""
    scored = {c["run_id"]: c for c in cv_rows if c.get("status") == "ok" and c.get("cv_score") is not None}
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        c = scored.get(r.get("run_id")) if r["status"] == "ok" else None
        r.update(cv_score=None if c is None else c["cv_score"], cv_constant=None if c is None else c["cv_constant"],
                 cv_folds=None if c is None else c["cv_folds"], normalised_cv=None)
        if c is not None and math.isfinite(c["cv_score"]):
            groups.setdefault(_norm_key(r), []).append(r)
    for members in groups.values():
        sign = 1.0 if members[0]["higher_is_better"] else -1.0
        best = max((r["cv_score"] for r in members), key=lambda s: sign * s)
        for r in members:
            if sign * (best - r["cv_constant"]) > 0:
                r["normalised_cv"] = round(max(0.0, _suite.normalised(r["cv_score"], r["cv_constant"], best)), 6)
    return rows


def load_runs(path: Path = RUNS, cv: Path | None = None) -> pd.DataFrame:
    """The run table, one row per (dataset, framework), ``meta`` and ``hardware`` flattened, normalised;
    with the cross-validated scores of ``cv`` (default: :func:`cv_path`) joined where that file exists."""
    cv = cv_path(Path(path)) if cv is None else Path(cv)
    rows = join_cv(normalise(_read(Path(path))), _read(cv))
    return pd.json_normalize(rows, sep=".") if rows else pd.DataFrame(columns=[*RUN_FIELDS, *CV_COLUMNS])


def load_trials(path: Path | None = None, runs_path: Path = RUNS) -> pd.DataFrame:
    """The trial table, only trials whose run finished and is in the run table."""
    runs_path = Path(runs_path)
    path = trials_path(runs_path) if path is None else Path(path)
    kept = {r["run_id"] for r in _read(runs_path)}
    return pd.DataFrame([t for t in _read(path) if t["run_id"] in kept], columns=list(TRIAL_FIELDS))


def trials_path(runs: Path) -> Path:
    return runs.with_name(runs.name.replace("runs", "trials") if "runs" in runs.name else runs.stem + "_trials.jsonl")


def _append(path: Path, rows: Iterable[Mapping[str, Any]], fields: tuple[str, ...] | None = None) -> None:
    with path.open("a") as f:
        for r in rows:
            f.write(json.dumps(r if fields is None else {k: r.get(k) for k in fields}, default=str) + "\n")
        f.flush()


# ---------------------------------------------------------------------------------------------
# Driver


def build(entries: list[dict[str, Any]], frameworks: list[str], budget: float, *, pool: Path, out: Path,
          minutes: float | None = None, retry_failed: bool = False, command: str | None = None,
          rerun: Iterable[str] = ()) -> int:
    """Run every pending (dataset, framework) pair, appending to ``out``; returns runs done.

    ``command`` is stored on each line: the command line that (re)built it. ``rerun``: frameworks
    whose rows made with other model families are superseded first (:func:`supersede`)."""
    hw = hardware_info()
    pool_name = Path(pool).resolve().name
    out.parent.mkdir(parents=True, exist_ok=True)
    replaced = supersede(out, rerun) if rerun else {}
    trials_out = trials_path(out)
    existing = _read(out)
    done = {_key(r) for r in existing if r["status"] == "ok" or not retry_failed}
    if retry_failed:  # drop the failed lines that are run again
        kept = [r for r in existing if r["status"] == "ok"]
        if len(kept) != len(existing):
            _rewrite(out, kept)

    def pending(entry: Mapping[str, Any]) -> list[str]:
        return [fw for fw in frameworks if (pool_name, entry["name"], fw, float(budget), hw["hardware_id"]) not in done]

    todo = sum(len(pending(e)) for e in entries)
    walls = [r["run_wall_seconds"] for r in existing if r["status"] == "ok" and float(r["budget"]) == float(budget)
             and r.get("run_wall_seconds") and r["hardware_id"] == hw["hardware_id"]]
    per_run = float(np.mean(walls)) if walls else budget + ASSUMED_OVERHEAD_SECONDS
    print(f"plan: {len(entries)} datasets x {len(frameworks)} frameworks ({', '.join(frameworks)}) at {budget:g} s "
          f"= {len(entries) * len(frameworks)} runs, {todo} to do; ~{per_run:.1f} s per run "
          f"({'measured' if walls else 'assumed'}) -> ~{todo * per_run / 60:.0f} min; hardware {hw['hardware_id']} "
          f"({hw['physical_cores']} cores, {hw['ram_gb']} GB, {hw['gpus']} GPU); writing {out}", flush=True)
    commit, dirty = _code_state()
    stop_at = None if minutes is None else time.monotonic() + 60 * minutes
    runs = 0
    for i, entry in enumerate(entries, 1):
        fws = pending(entry)
        if not fws:
            continue
        if stop_at is not None and time.monotonic() > stop_at:
            print(f"stopping: --minutes {minutes:g} reached; run the same command again to go on", flush=True)
            break
        task = entry["task"]
        base = {"format_version": FORMAT_VERSION, "pool": pool_name, "dataset": entry["name"],
                "group": group_of(entry["name"]), "task": task, "budget": float(budget), "n_jobs": 1, "seed": 0,
                "hardware_id": hw["hardware_id"], "hardware": hw, "automl_commit": commit, "code_dirty": dirty,
                "command": command, "date": datetime.date.today().isoformat(),
                "metric": _suite.MAIN_METRIC[task],
                "higher_is_better": _suite.HIGHER_IS_BETTER[_suite.MAIN_METRIC[task]]}
        try:
            train, test, dropped = load_split(entry, pool)
        except Exception as e:  # an unreadable dataset fails all its pairs once
            reason = f"dataset: {type(e).__name__}: {e}"[:500]
            print(f"[{i}/{len(entries)}] {entry['name']}: {reason}", flush=True)
            _append(out, [{**base, "run_id": uuid.uuid4().hex[:12], "framework": fw, "status": "failed",
                           "reason": reason} for fw in fws], RUN_FIELDS)
            continue
        constant = _suite.constant_scores(task, train, test, "target")[base["metric"]]
        base.update(rows=len(train) + len(test), train_rows=len(train), test_rows=len(test),
                    features=train.shape[1] - 1, dropped_rare_class_rows=dropped, constant_score=constant)
        print(f"[{i}/{len(entries)}] {entry['name']} ({task}, {len(train) + len(test):,} rows x {base['features']}, "
              f"group {base['group']}): {', '.join(fws)}", flush=True)
        for fw in fws:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            res = run_in_child(train, test, task, fw, budget, timeout=budget * TIMEOUT_FACTOR + TIMEOUT_EXTRA)
            run_id = uuid.uuid4().hex[:12]
            trials = res.pop("trials", [])
            record = {**base, "run_id": run_id, "framework": fw, "load_before": load, "nice": os.nice(0),
                      "versions": _versions(fw), "reason": None, **res,
                      "families": families_of(fw, task, len(train))}
            old = replaced.get((pool_name, entry["name"], fw, float(budget)))
            if old is not None:
                record["supersedes"] = old["run_id"]
                if old["hardware_id"] != hw["hardware_id"]:
                    record["normalise_hardware_id"] = old.get("normalise_hardware_id") or old["hardware_id"]
            if res["status"] == "ok":
                record["test_score"] = res["test"][base["metric"]]
                keys = {"run_id": run_id, "pool": pool_name, "dataset": entry["name"], "framework": fw,
                        "budget": float(budget), "hardware_id": hw["hardware_id"], "task": task,
                        "n_rows": res["meta"]["n_rows"], "n_features": res["meta"]["n_features"],
                        "n_classes": res["meta"]["n_classes"]}
                _append(trials_out, [{**keys, **t} for t in trials])  # before the run line: see load_trials
                print(f"    {fw:9s} {res['n_complete']:3d}/{res['n_trials']:3d} trials  test {base['metric']} "
                      f"{record['test_score']:.4f} (constant {constant:.4f})  fit {res['fit_wall_seconds']:.1f} s, "
                      f"run {res['run_wall_seconds']:.1f} s, peak {res['peak_mb']:.0f} MB", flush=True)
            else:
                print(f"    {fw:9s} FAILED after {res['run_wall_seconds']:.1f} s: {res['reason']}", flush=True)
            _append(out, [record], RUN_FIELDS)
            runs += 1
        refresh_normalised(out)
    return runs


def installed_frameworks(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(installed, not installed) among ``names``, in order; unknown names count as installed (they fail)."""
    from search_spaces import adapter_names, get_adapter

    known = set(adapter_names())
    ok, missing = [], []
    for name in names:
        (missing if name in known and not get_adapter(name).is_installed() else ok).append(name)
    return ok, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metadata", description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET,
                        help=f"seconds per (dataset, framework) search (default {DEFAULT_BUDGET:g})")
    parser.add_argument("--datasets", type=int, default=DEFAULT_DATASETS,
                        help=f"how many datasets of the pool (default {DEFAULT_DATASETS})")
    parser.add_argument("--frameworks", nargs="+", default=None,
                        help=f"default: the installed ones of {' '.join(DEFAULT_FRAMEWORKS)}")
    parser.add_argument("--pool", type=Path, default=POOL, help="a folder with a manifest.json (default: PMLB pool)")
    parser.add_argument("--out", type=Path, default=RUNS, help=f"run table (default {RUNS.relative_to(ROOT)}); "
                        "trials go beside it")
    parser.add_argument("--minutes", type=float, default=None, help="start no new dataset after this long")
    parser.add_argument("--retry-failed", action="store_true", help="run failed pairs again")
    parser.add_argument("--rerun", nargs="+", default=(), metavar="FW",
                        help="replace these frameworks' rows made with other model families (moved to "
                        f"{superseded_path(RUNS).name}) and run them again")
    parser.add_argument("--list", action="store_true", help="print the planned datasets and exit")
    args = parser.parse_args(argv)
    # A plain `kill` unwinds like Ctrl-C, so the running fit's process is stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.budget <= 0 or args.datasets <= 0:
        parser.error(f"--budget and --datasets must be positive, got {args.budget:g} and {args.datasets}")
    try:
        entries = plan_datasets(args.pool, args.datasets)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 1
    if args.list:
        for e in entries:
            print(e["name"], e["task"], e["rows"], e["features"], group_of(e["name"]))
        return 0
    if set(args.rerun) - set(args.frameworks or DEFAULT_FRAMEWORKS):
        parser.error(f"--rerun {' '.join(args.rerun)}: name only frameworks that run (add them to --frameworks)")
    frameworks, missing = installed_frameworks(args.frameworks or DEFAULT_FRAMEWORKS)
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}", flush=True)
    if not frameworks:
        print("no framework to run", file=sys.stderr)
        return 1
    started = time.monotonic()
    command = "python -m benchmarks.metadata " + " ".join(sys.argv[1:] if argv is None else argv)
    n = build(entries, frameworks, args.budget, pool=args.pool, out=args.out, minutes=args.minutes,
              retry_failed=args.retry_failed, command=command.strip(), rerun=args.rerun)
    print(f"{n} runs in {(time.monotonic() - started) / 60:.1f} min; table: {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
