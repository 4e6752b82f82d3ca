"""How long profiling a large frame takes (issue 2: 1,000,000 x 100 in seconds, not minutes).

    python -m benchmarks.profile_speed --rows 1000000 --cols 100

Generates a frame with numeric, categorical (strings), boolean and missing values, profiles it
three times, prints the timings and appends them to ``benchmarks/results/profile_speed.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recommender import profile_dataset

RESULTS = Path(__file__).resolve().parent / "results"


def make_frame(rows: int, cols: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_cat = cols // 5
    n_bool = cols // 10
    n_num = cols - n_cat - n_bool
    data: dict[str, object] = {f"num{i}": rng.normal(size=rows) for i in range(n_num)}
    levels = np.array([f"level_{k}" for k in range(50)], dtype=object)
    for i in range(n_cat):
        data[f"cat{i}"] = levels[rng.integers(0, 50, rows)]
    for i in range(n_bool):
        data[f"flag{i}"] = rng.random(rows) > 0.5
    df = pd.DataFrame(data)
    df.loc[rng.random(rows) < 0.05, "num0"] = np.nan
    df["target"] = rng.integers(0, 2, rows)
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    df = make_frame(args.rows, args.cols)
    print(f"generated {args.rows:,} x {args.cols} in {time.perf_counter() - t0:.1f}s")
    timings = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        prof = profile_dataset(df, "target")
        timings.append(time.perf_counter() - t)
    row = {"rows": args.rows, "cols": args.cols, "seconds": [round(s, 2) for s in timings],
           "best_seconds": round(min(timings), 2), "approximate": prof.approximate, "kinds": prof.kind_counts()}
    print(json.dumps(row))
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "profile_speed.jsonl").open("a") as fh:
        fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
