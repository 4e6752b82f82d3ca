"""Keras 3's backends on this machine: seconds per mini-batch of a small dense MLP, and import seconds.

Each installed backend (TensorFlow, JAX, torch) runs in a subprocess of its own with
``KERAS_BACKEND`` set and one CPU thread (see :mod:`recommender.keras_backends`); the figures go to
the user cache the recommender reads (``search_options={"keras_backend": "auto"}`` then picks the
fastest) and to ``benchmarks/results/keras_backends.json``.

    python -m benchmarks.keras_backends               # make bench-keras-backends
    python -m benchmarks.keras_backends --backends jax tensorflow --batches 500
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.dev_suite import RESULTS
from recommender import keras_backends as kb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", nargs="+", choices=kb.BACKENDS, help="default: every installed backend")
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--out", type=Path, default=RESULTS / "keras_backends.json")
    args = ap.parse_args(argv)
    measured = kb.measure(args.backends, batches=args.batches, batch_size=args.batch_size)
    choice = kb.choose("auto", measured, env=None)
    out = {
        "command": "python -m benchmarks.keras_backends " + " ".join(argv or []),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": kb.machine_key(),
        "model": "Dense 32 -> 256 -> 256 -> 2, Adam, one CPU thread, after 10 warm-up batches",
        "measurements": kb.table(measured), "auto": {"backend": choice.backend, "reason": choice.reason},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    for row in out["measurements"]:
        spb = row["seconds_per_batch"]
        print(f"{row['backend']:<11} " + (f"{spb * 1000:.2f} ms/batch, import {row['import_seconds']:.1f} s"
                                          if spb is not None else f"failed: {row['error']}"))
    print(f"auto -> {choice.reason}")
    print(f"written to {args.out} and {kb.cache_path()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
