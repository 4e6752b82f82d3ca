"""Scale: a generated 1,000,000 x 50 frame at a 300 s budget, with one process and with two workers.

    python -m benchmarks.scale [--rows 1000000] [--budget 300] [--out benchmarks/results/scale.jsonl]

The frame (40 numeric columns, 10 categorical ones of 5 to 5,000 levels, some missing values, a
binary target from a non-linear rule with noise) is written once to Parquet. Then:

1. ``single``: ``automl run DATA`` in one process (``--n-jobs -1``: both cores);
2. ``two-workers``: ``automl run DATA --storage URL --study NAME`` plus one ``automl worker``
   (one thread each), sharing the study through an RDB storage: PostgreSQL where
   ``tests/_postgres.py`` can start one, else SQLite.

For each it records the search's seconds (``fit``: profile, search, refit; the run directory's
``elapsed_seconds``) and whether the time promise held (<= budget x 1.05 + 5 s), the wall seconds
of the whole command (also reading the file, saving the run and drawing its plots), the peak
resident memory of every process involved (sampled every 0.2 s, summed over the process trees),
finished trials, trials per minute of search, and the best validation score. Results are printed
and appended to ``--out`` as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.compare import source_commit

ROOT = Path(__file__).resolve().parents[1]


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {f"x{i}": rng.normal(size=rows).astype(np.float32) for i in range(40)}
    levels = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    for i, k in enumerate(levels):
        data[f"c{i}"] = pd.Categorical.from_codes(rng.integers(0, k, rows), [f"L{j}" for j in range(k)])
    df = pd.DataFrame(data)
    for col in ("x3", "x7", "c2"):
        df.loc[rng.random(rows) < 0.05, col] = None
    signal = (
        np.sin(df["x0"].to_numpy()) + df["x1"].to_numpy() * df["x2"].to_numpy()
        + 0.5 * (df["c0"].cat.codes.to_numpy() % 2) - 0.3 * np.abs(df["x4"].to_numpy())
        + 0.2 * (df["c7"].cat.codes.to_numpy() % 3 == 0)
    )
    noisy = signal + rng.normal(scale=0.8, size=rows)
    df["y"] = np.where(noisy > np.median(noisy), "yes", "no")
    return df


class PeakMemory:
    """Samples the summed RSS of the given processes and their children until stopped."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for pid in self.pids:
                try:
                    proc = psutil.Process(pid)
                    procs = [proc, *proc.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def automl_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "automl", *args]


def summarise(name: str, run_dir: Path, wall: float, peak_mb: float, budget: float, extra: dict[str, Any]) -> dict:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    board = manifest["leaderboard"]
    finished = [r for r in board if r["state"] in ("COMPLETE", "PRUNED", "FAIL")]
    searched = max(manifest["elapsed_seconds"], 1e-9)
    return {
        "setting": name, "rows": extra.pop("rows"), "budget": budget, "fit_s": round(searched, 1),
        "promise_kept": searched <= budget * 1.05 + 5, "process_wall_s": round(wall, 1),
        "peak_mb": round(peak_mb), "trials": len(finished),
        "complete": sum(r["state"] == "COMPLETE" for r in board),
        "trials_per_minute": round(60 * len(finished) / searched, 2),
        "best_framework": manifest["best"]["framework"], "best_model": manifest["best"]["model_family"],
        "best_score": manifest["best"]["score"], "metric": manifest["metric"]["name"],
        "refit": manifest["refit"], **extra,
    }


def run_single(data: Path, work: Path, budget: float, rows: int) -> dict[str, Any]:
    out = work / "single"
    cmd = automl_cmd("-q", "run", str(data), "--target", "y", "--time-budget", str(budget), "--out", str(out))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(work / "single.log", "w"), stderr=subprocess.STDOUT)
    with PeakMemory([proc.pid]) as mem:
        proc.wait()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        log = (work / "single.log").read_text()[-2000:]
        raise SystemExit(f"single run failed with status {proc.returncode}: {log}")
    return summarise("single", out, wall, mem.peak_mb, budget, {"rows": rows, "processes": 1})


def storage_url(work: Path) -> tuple[str, Any]:
    """A PostgreSQL server of the tests' helper where it can start, else an SQLite file."""
    sys.path.insert(0, str(ROOT))
    try:
        from tests._postgres import PostgresServer

        server = PostgresServer()
        server.start()
        return server.url, server
    except Exception as e:  # noqa: BLE001 - any reason PostgreSQL cannot start: fall back and say so
        print(f"PostgreSQL unavailable ({e}); using SQLite", file=sys.stderr)
        return f"sqlite:///{work / 'study.db'}", None


def _worker_report(log: Path) -> dict[str, Any]:
    """The worker's own account (``automl worker --json``): its trials and its preparation time."""
    text = log.read_text()
    start = 0 if text.startswith("{") else text.find("\n{") + 1  # after any warnings on stderr
    try:
        report = json.loads(text[start:])
    except ValueError:
        return {"worker_report": text[-500:]}
    return {"worker_trials": sum(report["trials"].values()), "worker_prepare_s": report["prepare_seconds"]}


def run_workers(data: Path, work: Path, budget: float, rows: int) -> dict[str, Any]:
    url, server = storage_url(work)
    name = f"scale-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AUTOML_STORAGE": url}
    out = work / "workers"
    try:
        started = time.monotonic()
        main = subprocess.Popen(
            automl_cmd("-q", "run", str(data), "--target", "y", "--time-budget", str(budget), "--out", str(out),
                       "--study", name, "--n-jobs", "1"),
            cwd=ROOT, env=env, stdout=open(work / "main.log", "w"), stderr=subprocess.STDOUT,
        )
        pids = [main.pid]
        with PeakMemory(pids) as mem:
            import optuna

            while True:  # the worker joins once the study exists
                try:
                    optuna.load_study(study_name=name, storage=url)
                    break
                except KeyError:
                    if main.poll() is not None:
                        raise SystemExit("the main process ended before creating the study") from None
                    time.sleep(0.5)
            worker = subprocess.Popen(automl_cmd("-q", "worker", "--study", name, "--n-jobs", "1", "--json"),
                                      cwd=ROOT, env=env, stdout=open(work / "worker.log", "w"),
                                      stderr=subprocess.STDOUT)
            pids.append(worker.pid)
            main.wait()
            wall = time.monotonic() - started
            worker.wait(timeout=120)
        if main.returncode != 0:
            raise SystemExit(f"main process failed with status {main.returncode}")
        storage = "postgresql" if url.startswith("postgresql") else "sqlite"
        joined = _worker_report(work / "worker.log")
        return summarise("two-workers", out, wall, mem.peak_mb, budget, {"rows": rows, "processes": 2,
                                                                        "storage": storage, **joined})
    finally:
        if server is not None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--settings", nargs="+", default=["single", "two-workers"], choices=["single", "two-workers"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.jsonl"))
    parser.add_argument("--keep", help="a folder to keep the data, logs and run directories in (default: removed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="automl-scale-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        os.chmod(work, 0o755)
        data = work / "data.parquet"
        t = time.monotonic()
        make_frame(args.rows).to_parquet(data, index=False)
        print(f"generated {args.rows:,} x 50 in {time.monotonic() - t:.1f}s ({data.stat().st_size / 2**20:.0f} MB)")
        records = []
        for setting in args.settings:
            runner = run_single if setting == "single" else run_workers
            record = runner(data, work, args.budget, args.rows)
            record.update(machine=f"{platform.machine()} {os.cpu_count()} cores", date=time.strftime("%Y-%m-%d"),
                          commit=source_commit())
            records.append(record)
            print(json.dumps(record))
            with open(args.out, "a") as f:
                f.write(json.dumps(record) + "\n")
    print(f"{'setting':<12} {'fit s':>7} {'promise':>8} {'wall s':>7} {'peak MB':>8} {'trials':>7} {'per min':>8} best")
    for r in records:
        print(f"{r['setting']:<12} {r['fit_s']:>7} {r['promise_kept']!s:>8} {r['process_wall_s']:>7} {r['peak_mb']:>8} "
              f"{r['trials']:>7} "
              f"{r['trials_per_minute']:>8} {r['best_framework']}/{r['best_model']} {r['best_score']:.5f}")


if __name__ == "__main__":
    main()
