"""The ``automl`` command line: thin wrappers over the Python API.

User mistakes (bad arguments, unreadable files, bad data) print one line to stderr and exit 2,
with no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from automl.errors import InputError, UserError
from automl.io import demo_frame, read_table, write_table

EPILOGS = {
    "run": "examples:\n  automl run data.csv --target y --time-budget 60 --frameworks sklearn xgboost\n"
           "  automl run data.parquet --target y --out runs/first --mlflow sqlite:///mlflow.db",
    "quick-run": "examples:\n  automl quick-run                      # bundled breast-cancer data, 30 s\n"
                 "  automl quick-run data.csv --target y",
    "recommend": "example:\n  automl recommend data.csv --target y --time-budget 120",
    "profile": "example:\n  automl profile data.csv --target y --json",
    "doctor": "example:\n  automl doctor",
    "resume": "examples:\n  automl resume automl-runs/data-20261125-101500\n"
              "  automl resume runs/first --time-budget 120     # search longer than first planned",
    "worker": "example (the data file must be readable at the path recorded in the study, or pass --data):\n"
              "  automl run data.csv --target y --storage postgresql://u:pw@db/automl --study s1 &\n"
              "  automl worker --storage postgresql://u:pw@db/automl --study s1",
    "predict": "examples:\n  automl predict runs/first new.csv --out predictions.csv\n"
               "  automl predict runs/first new.parquet --out scored.parquet --proba",
}
QUICK_BUDGET = 30.0


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _leaderboard_text(result: Any, rows: int = 15) -> str:
    board = result.leaderboard.drop(columns=["params", "score"]).head(rows)
    return board.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.5g}")


def _model_text(model: Any) -> str:
    """The fitted model in one line: the estimator after preprocessing, or the ensemble's members."""
    members = getattr(model, "members", None)
    if members is not None:
        return "weighted ensemble of " + ", ".join(_model_text(m) for m in members)
    steps = getattr(model, "steps", None)
    final = steps[-1][1] if steps else model
    return " ".join(repr(final).split())


def _verbosity(args: argparse.Namespace) -> int:
    if args.quiet or getattr(args, "json", False):
        return 0
    return 2 if args.verbose > 1 else 1


def _default_out(data: str | None) -> str:
    stem = Path(data).name.split(".")[0] if data else "demo"
    return str(Path("automl-runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")


def _run(df: pd.DataFrame, target: str, args: argparse.Namespace, source: str | None = None) -> int:
    from automl._progress import log_output
    from automl.api import _fit

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
    return _report(result, args, time.monotonic() - started)


def _search_options(args: argparse.Namespace) -> dict[str, Any] | None:
    options = {
        "isolation": args.isolation, "trial_timeout": args.trial_timeout, "memory_limit_mb": args.memory_limit,
    }
    return {k: v for k, v in options.items() if v is not None} or None


def _report(result: Any, args: argparse.Namespace, wall: float) -> int:
    """Print a finished (or interrupted) run; exit status 130 when Ctrl-C cut it short."""
    saved = None if result.run_dir is None else Path(result.run_dir)
    run_id = None
    if getattr(args, "mlflow", None):
        from automl.report import log_to_mlflow

        run_id = log_to_mlflow(result, tracking_uri=args.mlflow, experiment=args.experiment)
    status = 130 if result.interrupted else 0
    if args.json:
        _print_json(
            {
                "best_framework": result.best_framework, "best_model": result.best_model_family,
                "best_params": result.best_params, "metric": result.metric.name,
                "best_score": result.best_score, "wall_seconds": wall, "refit": result.refit,
                "recommendation": result.recommendation.to_dict(),
                "leaderboard": json.loads(result.leaderboard.to_json(orient="records", default_handler=str)),
                "run_dir": None if saved is None else str(saved),
                "mlflow_run_id": run_id,
                "interrupted": result.interrupted,
            }
        )
        return status
    print("== Hardware ==")
    print(result.hardware.summary())
    print("\n== Dataset ==")
    print(result.profile.summary())
    print("\n== " + result.recommendation.summary())
    print(f"\n== Leaderboard ({len(result.leaderboard)} trials, {result.validation}) ==")
    print(_leaderboard_text(result))
    print("\n== Best model ==")
    print(result.summary())
    print(f"Model: {_model_text(result.best_model)}")
    print(f"Wall time: {wall:.1f}s")
    if saved is not None:
        plots = ", ".join(sorted(p.name for p in (saved / "plots").glob("*.png")))
        print(f"Saved: {saved} (model, manifest.json, study.db, plots: {plots or 'none'})")
        print(f"Predict with: automl predict {saved} NEW_DATA --out predictions.csv")
    if run_id is not None:
        print(f"MLflow: run {run_id} in experiment {args.experiment!r} at {args.mlflow}")
    if result.interrupted and saved is not None and (saved / "search").is_dir():
        print(f"Interrupted: the best model so far is saved. Continue the search with: automl resume {saved}")
    return status


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
    return _report(result, args, time.monotonic() - started)


def cmd_worker(args: argparse.Namespace) -> int:
    import automl

    if not args.storage:
        raise UserError("worker needs --storage URL (or the AUTOML_STORAGE environment variable)")
    summary = automl.work(args.storage, args.study, n_jobs=args.n_jobs, verbosity=_verbosity(args), data=args.data)
    if args.json:
        _print_json({"study": args.study, **summary})
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
        _print_json({"rows": len(out), "out": args.out, "columns": list(out.columns), "run_dir": args.run_dir})
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
        read_table(args.data), args.target, time_budget=args.time_budget or 60.0,
        frameworks=args.frameworks, task=args.task, device=args.device,
    )
    if args.json:
        _print_json(rec.to_dict())
    else:
        print(rec.summary())
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    import automl

    prof = automl.profile(read_table(args.data), args.target, task=args.task)
    if args.json:
        _print_json(prof.to_dict())
    else:
        print(prof.summary())
        print()
        print(prof.columns_frame().to_string(index=False))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import automl

    hw = automl.hardware(refresh=True)
    if args.json:
        _print_json(hw.to_dict())
    else:
        print(hw.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automl",
        description="Which ML framework to use for your data on your hardware, and the best model it finds.",
        epilog="examples:\n  automl quick-run\n  automl run data.csv --target y --time-budget 60\n  automl doctor",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=1, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=EPILOGS[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    def search_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--time-budget", type=float, help="seconds, refit included (run: 60, quick-run: 30)")
        p.add_argument("--n-trials", type=int, help="stop after this many trials")
        p.add_argument("--metric", help="scikit-learn scorer name or alias (auc, logloss, rmse, ...)")
        p.add_argument("--frameworks", nargs="+", help="restrict the search, e.g. sklearn xgboost")
        p.add_argument("--task", choices=["binary", "multiclass", "regression"], help="override the inferred task")
        p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--n-jobs", type=int, default=-1,
                       help="threads per model (default -1: the cores other work leaves free)")
        p.add_argument("--out", help="run directory to write: model, manifest, study, PNG plots "
                       "(run: automl-runs/NAME-TIME by default)")
        p.add_argument("--mlflow", metavar="URI", help="also log to MLflow, e.g. sqlite:///mlflow.db")
        p.add_argument("--experiment", default="automl", help="MLflow experiment name (default: automl)")
        p.add_argument("--isolation", choices=["none", "process"],
                       help="process: each trial runs in a child process, killed at its deadline or memory cap")
        p.add_argument("--trial-timeout", type=float, metavar="S",
                       help="seconds one trial may run (default: a quarter of --time-budget, at least 10)")
        p.add_argument("--memory-limit", type=float, metavar="MB",
                       help="with --isolation process: a trial's memory cap (default: 80%% of free RAM)")
        p.add_argument("--storage", metavar="URL", default=os.environ.get("AUTOML_STORAGE"),
                       help="keep the study in this Optuna storage (e.g. postgresql://user:pw@host/db) so that "
                       "automl worker processes can join; default: $AUTOML_STORAGE, else the run directory's "
                       "journal file (set the variable to keep a password out of the process list)")
        p.add_argument("--study", metavar="NAME", help="the study's name in --storage (workers join it by name)")
        p.add_argument("--heartbeat", type=int, default=10, metavar="S",
                       help="with --storage: seconds between a trial's heartbeats; a trial silent for 3 beats is "
                       "failed and retried (default 10)")

    p = add("run", "Search for the best model on a CSV, Parquet or Feather file.")
    p.add_argument("data")
    p.add_argument("--target", required=True)
    search_options(p)
    p.set_defaults(func=cmd_run)

    p = add("quick-run", "A short search; on bundled demo data when no file is given.")
    p.add_argument("data", nargs="?")
    p.add_argument("--target")
    search_options(p)
    p.set_defaults(func=cmd_quick_run)

    p = add("resume", "Continue a stopped or finished run's search (its study is kept in RUN_DIR/search).")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--time-budget", type=float, help="seconds for this session (default: what is left of the run's)")
    p.add_argument("--data", help="the run's data file, if it moved (default: the path recorded in the run)")
    p.add_argument("--n-jobs", type=int, help="threads per model (default: the run's)")
    p.set_defaults(func=cmd_resume)

    p = add("worker", "Join a search kept in a database: run its trials until the main process finishes.")
    p.add_argument("--storage", metavar="URL", default=os.environ.get("AUTOML_STORAGE"),
                   help="the study's Optuna storage URL (default: $AUTOML_STORAGE)")
    p.add_argument("--study", required=True, metavar="NAME", help="the study's name")
    p.add_argument("--data", help="where this machine reads the data (default: the path recorded in the study)")
    p.add_argument("--n-jobs", type=int, default=-1, help="threads per model (default -1: the free cores)")
    p.set_defaults(func=cmd_worker)

    p = add("recommend", "Rank the frameworks for a dataset on this machine, with reasons; trains nothing.")
    p.add_argument("data")
    p.add_argument("--target", required=True)
    p.add_argument("--time-budget", type=float)
    p.add_argument("--frameworks", nargs="+")
    p.add_argument("--task", choices=["binary", "multiclass", "regression"])
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.set_defaults(func=cmd_recommend)

    p = add("profile", "Profile a dataset: column kinds, missing values, task and classes.")
    p.add_argument("data")
    p.add_argument("--target", required=True)
    p.add_argument("--task", choices=["binary", "multiclass", "regression"])
    p.set_defaults(func=cmd_profile)

    p = add("predict", "Predict with a saved run directory on a CSV, Parquet or Feather file.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", required=True, help="where to write predictions (.csv, .parquet or .feather)")
    p.add_argument("--proba", action="store_true", help="also write class probabilities (classification)")
    p.set_defaults(func=cmd_predict)

    p = add("doctor", "Show cores, memory, GPUs and which frameworks are installed and can use a GPU.")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = args.quiet or getattr(args, "json", False)
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    if args.verbose > 1 and not quiet:
        logging.getLogger("automl").setLevel(logging.DEBUG)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except (UserError, InputError) as e:
        print(f"automl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:  # an optional package the command needs (pyarrow, mlflow, a framework)
        print(f"automl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        import signal

        print("automl: interrupted", file=sys.stderr)
        if argv is None:  # the command itself (not a caller of main() in its own process, which keeps its handler):
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl-C must not break the exit,
            sys.stdout.flush()  # and the interpreter's teardown is skipped: a Ctrl-C still pending from the
            sys.stderr.flush()  # abort could turn it into a death by SIGINT
            os._exit(130)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
