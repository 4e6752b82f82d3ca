"""OpenMP wait policies and thread counts: seconds per model on idle cores and with one core busy.

    python -m benchmarks.omp_threads [--out benchmarks/results/omp_threads.jsonl]

Each setting runs in a fresh interpreter (OpenMP reads its variables when it loads): LightGBM,
XGBoost and scikit-learn's histogram boosting fit 100 rounds, all threads, on 258 and on 50,000
random rows; then the same with a second process spinning on one core. The last setting is what
``import automl`` does with ``n_jobs=-1``: a short spin (``GOMP_SPINCOUNT=10000``) and only the
cores that other processes leave free (``automl.search._cores.CoreBudget``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "spin (libgomp default)": {},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
    "automl (spin 10000, free cores)": {"GOMP_SPINCOUNT": "10000", "FREE_CORES": "1"},
}

CHILD = r"""
import json, os, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
import lightgbm, xgboost
from sklearn.ensemble import HistGradientBoostingClassifier
threads = os.cpu_count()
if os.environ.get("FREE_CORES"):
    from automl.search._cores import CoreBudget
    threads = CoreBudget(-1).threads()
rng = np.random.default_rng(0)
out = {"threads": threads}
for n in (258, 50_000):
    X, y = rng.normal(size=(n, 20)), rng.integers(0, 3, n)
    models = {
        "lightgbm": lambda: lightgbm.LGBMClassifier(n_estimators=100, n_jobs=threads, verbose=-1),
        "xgboost": lambda: xgboost.XGBClassifier(n_estimators=100, n_jobs=threads),
        "sklearn_hgb": lambda: HistGradientBoostingClassifier(max_iter=100, early_stopping=False),
    }
    from threadpoolctl import threadpool_limits
    for name, make in models.items():
        with threadpool_limits(threads):
            t = time.perf_counter()
            make().fit(X, y)
        out[f"{name}_{n}"] = round(time.perf_counter() - t, 3)
print(json.dumps(out))
"""


def run(setting: dict[str, str], busy: bool) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "FREE_CORES")}
    env.update(setting)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        if spinner:
            time.sleep(0.5)
        done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=900)
    finally:
        if spinner:
            spinner.kill()
            spinner.wait()
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/omp_threads.jsonl"))
    args = ap.parse_args()
    rows = []
    for busy in (False, True):
        for name, setting in SETTINGS.items():
            rec = {"setting": name, "other_process": "one core busy" if busy else "idle",
                   "cores": os.cpu_count(), **run(setting, busy)}
            rows.append(rec)
            print(json.dumps(rec), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as f:
        for rec in rows:
            f.write(json.dumps(rec) + "\n")
    keys = [k for k in rows[0] if k.endswith(("_258", "_50000"))]
    print("\n| setting | other work | threads | " + " | ".join(keys) + " | total s |")
    print("|---|---|---|" + "---|" * (len(keys) + 1))
    for r in rows:
        cells = " | ".join(f"{r[k]:.2f}" for k in keys)
        print(f"| {r['setting']} | {r['other_process']} | {r['threads']} | {cells} | {sum(r[k] for k in keys):.2f} |")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
