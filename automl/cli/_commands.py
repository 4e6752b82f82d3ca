"""The sub-commands: each ``cmd_*`` takes the parsed arguments and returns the exit status."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd

from automl.cli._output import print_json, report
from automl.errors import UserError
from automl.io import demo_frame, read_table, write_table

QUICK_BUDGET = 30.0


def _verbosity(args: argparse.Namespace) -> int:
    if args.quiet or getattr(args, "json", False):
        return 0
    return 2 if args.verbose > 1 else 1


def _default_out(data: str | None) -> str:
    stem = Path(data).name.split(".")[0] if data else "demo"
    return str(Path("automl-runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")


def _run(df: pd.DataFrame, target: str, args: argparse.Namespace, source: str | None = None) -> int:
    from automl._progress import log_output
    from automl._run import fit_frame as _fit

    out = None if args.out is None else Path(args.out)
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        hint = f" (continue its search with: automl resume {args.out})" if (out / "search").is_dir() else ""
        raise UserError(f"--out {args.out!r} already exists and is not an empty folder{hint}; choose a new folder")
    started = time.monotonic()
    with log_output(_verbosity(args)):
        result = _fit(
            df, target, time_budget=args.time_budget, n_trials=args.n_trials, metric=args.metric,
            frameworks=args.frameworks, task=args.task, device=args.device, seed=args.seed, n_jobs=args.n_jobs,
            storage=args.storage, study_name=args.study, run_dir=args.out,
            source=source, keras_hypermodel=None, verbosity=_verbosity(args), ensemble=True,
            search_options=_search_options(args),
            save_plots=True, heartbeat=args.heartbeat,
        )
    return report(result, args, time.monotonic() - started)


def _search_options(args: argparse.Namespace) -> dict[str, Any] | None:
    options = {
        "isolation": args.isolation, "trial_timeout": args.trial_timeout, "memory_limit_mb": args.memory_limit,
    }
    return {k: v for k, v in options.items() if v is not None} or None


def cmd_run(args: argparse.Namespace) -> int:
    if args.time_budget is None:
        args.time_budget = 60.0
    if args.out is None:
        args.out = _default_out(args.data)
    return _run(read_table(args.data), args.target, args, source=str(Path(args.data).resolve()))


def cmd_resume(args: argparse.Namespace) -> int:
    import automl

    started = time.monotonic()
    df = None if args.data is None else read_table(args.data)
    result = automl.resume(
        args.run_dir, df, time_budget=args.time_budget, n_jobs=args.n_jobs, verbosity=_verbosity(args)
    )
    return report(result, args, time.monotonic() - started)


def cmd_worker(args: argparse.Namespace) -> int:
    import automl

    if not args.storage:
        raise UserError("worker needs --storage URL (or the AUTOML_STORAGE environment variable)")
    summary = automl.work(args.storage, args.study, n_jobs=args.n_jobs, verbosity=_verbosity(args), data=args.data)
    if args.json:
        print_json({"study": args.study, **summary})
    else:
        ran = ", ".join(f"{n} {state.lower()}" for state, n in sorted(summary["trials"].items())) or "no trials"
        print(f"Worker done: {ran} in study {args.study!r} (ready after {summary['prepare_seconds']:.1f}s)")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import automl

    result = automl.load(args.run_dir)
    df = read_table(args.data, allow_empty=True)
    if args.proba:
        if result.task == "regression":
            raise UserError("--proba is for classification runs; this run is a regression model")
        out = result.predict_proba(df).add_prefix("proba_")
        out.insert(0, "prediction", result.predict(df).to_numpy())
    else:
        out = result.predict(df).rename("prediction").to_frame()
    write_table(out, args.out)
    if args.json:
        print_json({"rows": len(out), "out": args.out, "columns": list(out.columns), "run_dir": args.run_dir})
    else:
        print(f"Wrote {len(out):,} predictions to {args.out} ({result.best_framework} / {result.best_model_family})")
    return 0


def cmd_quick_run(args: argparse.Namespace) -> int:
    if args.data is None:
        df, target = demo_frame()
        if not args.json:
            print(f"No DATA given: using scikit-learn's bundled breast-cancer data ({len(df)} rows).\n")
    else:
        if args.target is None:
            raise UserError("quick-run DATA needs --target COLUMN")
        df, target = read_table(args.data), args.target
    if args.time_budget is None:
        args.time_budget = QUICK_BUDGET
    return _run(df, target, args, source=None if args.data is None else str(Path(args.data).resolve()))


def cmd_recommend(args: argparse.Namespace) -> int:
    import automl

    rec = automl.recommend(
        read_table(args.data), args.target, time_budget=args.time_budget,
        frameworks=args.frameworks, task=args.task, device=args.device,
    )
    if args.json:
        print_json(rec.to_dict())
    else:
        print(rec.summary())
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    import automl

    prof = automl.profile(read_table(args.data), args.target, task=args.task)
    if args.json:
        print_json(prof.to_dict())
    else:
        print(prof.summary())
        print()
        print(prof.columns_frame().to_string(index=False))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import automl

    hw = automl.hardware(refresh=True)
    if args.json:
        print_json(hw.to_dict())
    else:
        print(hw.summary())
    return 0


def cmd_keras_backends(args: argparse.Namespace) -> int:
    from recommender import keras_backends as kb

    if args.batches < 10:
        raise UserError(f"--batches must be at least 10, got {args.batches}")
    if args.show:
        measured = kb.load()
    else:
        if not kb.installed():
            raise UserError("no Keras backend is installed: pip install 'automl-recommender[tensorflow]'")
        measured = kb.measure(args.backends, batches=args.batches)
    choice = kb.choose("auto", measured, env=None)
    rows = kb.table(measured)
    if args.json:
        print_json({"cache": str(kb.cache_path()), "machine": kb.machine_key(), "measurements": rows,
                    "auto": {"backend": choice.backend, "reason": choice.reason}})
        return 0
    for r in rows:
        if r["error"]:
            print(f"  {r['backend']:<11} failed: {r['error']}")
        else:
            print(f"  {r['backend']:<11} {r['seconds_per_batch'] * 1000:7.2f} ms per batch of {r['batch_size']}, "
                  f"import {r['import_seconds']:.1f} s, first 10 batches {r['warmup_seconds']:.1f} s")
    if not rows:
        print("  nothing measured yet on this machine: run `automl keras-backends`")
    print(f"keras_backend='auto' -> {choice.reason}")
    print(f"cache: {kb.cache_path()}")
    return 0
