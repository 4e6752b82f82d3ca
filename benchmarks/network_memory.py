"""What one network fit holds in memory on a million rows: its preprocessing and its fit (issue 21).

On the scale benchmark's generated frame (:func:`benchmarks.scale.make_frame`: 40 numeric columns,
10 categorical ones of 5 to 5,000 levels), for the first default configuration of each network
family asked for, built as a trial builds it (two threads), this records

- the preprocessing alone (the pipeline's column transformer, ``fit_transform``): seconds, the output's
  shape, dtype and MB, and the peak resident memory above the process's before it;
- the whole pipeline's fit under a deadline of ``--seconds`` (a trial's cap cuts a network the same
  way): seconds and the peak above the process's memory before the preprocessing.

Each configuration runs in a fresh process, so that memory one fit leaves cached does not count in
the next one's. Rows are appended to ``--out`` with the commit.

    python -m benchmarks.network_memory [--rows 1000000] [--families keras:mlp torch:realmlp] [--seconds 25]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.compare import source_commit
from benchmarks.dev_suite import RESULTS

FAMILIES = ("keras:mlp", "keras:realmlp", "torch:realmlp")


class Peak:
    """The process's peak resident memory, sampled every 50 ms while running."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.value = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.value = max(self.value, self.process.memory_info().rss)
            self._stop.wait(0.05)

    def now(self) -> int:
        return self.process.memory_info().rss

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.value, self.now())


def measure_one(framework: str, family: str, rows: int, seconds: float) -> dict[str, Any]:
    """One configuration, in this process (``--one``)."""
    from benchmarks.scale import make_frame
    from search_spaces import fit_budget, get_adapter
    from search_spaces._spec import FeatureSpec

    frame = make_frame(rows)
    y = frame.pop("y")
    categorical = tuple(c for c in frame if c.startswith("c"))
    spec = FeatureSpec(
        task="binary", n_rows=rows, numeric=tuple(c for c in frame if c.startswith("x")), categorical=categorical,
        n_classes=2, cardinality={c: int(frame[c].nunique()) for c in categorical},
    )
    adapter = get_adapter(framework)
    config = next(c for c in adapter.default_configs(spec) if c.family == family)
    pipeline = adapter.build(config, spec, seed=0, n_jobs=2)
    peak = Peak()
    before = peak.now()
    started = time.monotonic()
    out = pipeline[0].fit_transform(frame, y)
    pre_s = time.monotonic() - started
    shape, dtype, out_mb = out.shape, str(out.dtype), out.nbytes / 2**20
    del out
    pre_peak = peak.value - before
    started = time.monotonic()
    with fit_budget(time.monotonic() + seconds):
        pipeline.fit(frame, y)
    fit_s = time.monotonic() - started
    fit_peak = peak.stop() - before
    return {
        "framework": framework, "family": family, "rows": rows, "features_out": int(shape[1]), "dtype": dtype,
        "preprocess_s": round(pre_s, 1), "preprocess_out_mb": round(out_mb),
        "preprocess_peak_mb": round(pre_peak / 2**20),
        "fit_deadline_s": seconds, "fit_s": round(fit_s, 1), "fit_peak_mb": round(fit_peak / 2**20),
        "base_mb": round(before / 2**20),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), help="framework:family pairs")
    ap.add_argument("--seconds", type=float, default=25.0, help="the fit's deadline (a trial's cap)")
    ap.add_argument("--out", type=Path, default=RESULTS / "network_memory.jsonl")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # framework:family, measured in this process
    args = ap.parse_args(argv)
    if args.one:
        framework, family = args.one.split(":")
        print(json.dumps(measure_one(framework, family, args.rows, args.seconds)))
        return 0
    commit = source_commit()
    for pair in args.families:
        cmd = [sys.executable, "-m", "benchmarks.network_memory", "--one", pair, "--rows", str(args.rows),
               "--seconds", str(args.seconds)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{pair}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        row = {**json.loads(done.stdout.strip().splitlines()[-1]), "commit": commit, "date": time.strftime("%Y-%m-%d")}
        print(f"{pair:<14} {row['rows']:,} rows -> {row['features_out']} {row['dtype']} columns: preprocessing "
              f"{row['preprocess_s']}s, {row['preprocess_out_mb']} MB out, peak +{row['preprocess_peak_mb']} MB; "
              f"fit ({row['fit_deadline_s']:g}s deadline) {row['fit_s']}s, peak +{row['fit_peak_mb']} MB", flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
