"""The ``automl`` argument parser: one function per sub-command's arguments, examples in the epilogs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from automl.cli import _commands as commands

DESCRIPTION = "Which ML framework to use for your data on your hardware, and the best model it finds."
EPILOG = "examples:\n  automl quick-run\n  automl run data.csv --target y --time-budget 60\n  automl doctor"
EPILOGS = {
    "run": "examples:\n  automl run data.csv --target y --time-budget 60 --frameworks sklearn xgboost\n"
           "  automl run data.parquet --target y --out runs/first --mlflow sqlite:///mlflow.db",
    "quick-run": "examples:\n  automl quick-run                      # bundled breast-cancer data, 30 s\n"
                 "  automl quick-run data.csv --target y",
    "recommend": "example:\n  automl recommend data.csv --target y --time-budget 120",
    "profile": "example:\n  automl profile data.csv --target y --json",
    "doctor": "example:\n  automl doctor",
    "keras-backends": "examples:\n  automl keras-backends          # measure each installed backend (~1 min)\n"
                      "  automl keras-backends --show   # the cached figures and what keras_backend='auto' picks",
    "resume": "examples:\n  automl resume automl-runs/data-20261125-101500\n"
              "  automl resume runs/first --time-budget 120     # search longer than first planned",
    "worker": "example (the data file must be readable at the path recorded in the study, or pass --data):\n"
              "  automl run data.csv --target y --storage postgresql://u:pw@db/automl --study s1 &\n"
              "  automl worker --storage postgresql://u:pw@db/automl --study s1",
    "predict": "examples:\n  automl predict runs/first new.csv --out predictions.csv\n"
               "  automl predict runs/first new.parquet --out scored.parquet --proba",
}
TASK_CHOICES = ["binary", "multiclass", "regression"]
DEVICE_CHOICES = ["auto", "cpu", "cuda"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automl", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=1, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_, arguments in SUBCOMMANDS:
        p = sub.add_parser(name, help=help_, description=help_, epilog=EPILOGS[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        arguments(p)
    return parser


def _search_options(p: argparse.ArgumentParser) -> None:
    """The options of a search (``run`` and ``quick-run``)."""
    p.add_argument("--time-budget", type=float, help="seconds, refit included (run: 60, quick-run: 30)")
    p.add_argument("--n-trials", type=int, help="stop after this many trials")
    p.add_argument("--metric", help="scikit-learn scorer name or alias (auc, logloss, rmse, ...)")
    p.add_argument("--frameworks", nargs="+", help="restrict the search, e.g. sklearn xgboost")
    p.add_argument("--task", choices=TASK_CHOICES, help="override the inferred task")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
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


def _run(p: argparse.ArgumentParser) -> None:
    p.add_argument("data")
    p.add_argument("--target", required=True)
    _search_options(p)
    p.set_defaults(func=commands.cmd_run)


def _quick_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="?")
    p.add_argument("--target")
    _search_options(p)
    p.set_defaults(func=commands.cmd_quick_run)


def _resume(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--time-budget", type=float, help="seconds for this session (default: what is left of the run's)")
    p.add_argument("--data", help="the run's data file, if it moved (default: the path recorded in the run)")
    p.add_argument("--n-jobs", type=int, help="threads per model (default: the run's)")
    p.set_defaults(func=commands.cmd_resume)


def _worker(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", metavar="URL", default=os.environ.get("AUTOML_STORAGE"),
                   help="the study's Optuna storage URL (default: $AUTOML_STORAGE)")
    p.add_argument("--study", required=True, metavar="NAME", help="the study's name")
    p.add_argument("--data", help="where this machine reads the data (default: the path recorded in the study)")
    p.add_argument("--n-jobs", type=int, default=-1, help="threads per model (default -1: the free cores)")
    p.set_defaults(func=commands.cmd_worker)


def _recommend(p: argparse.ArgumentParser) -> None:
    p.add_argument("data")
    p.add_argument("--target", required=True)
    p.add_argument("--time-budget", type=float, default=60.0, help="the budget to plan for, in seconds (default: 60)")
    p.add_argument("--frameworks", nargs="+")
    p.add_argument("--task", choices=TASK_CHOICES)
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    p.set_defaults(func=commands.cmd_recommend)


def _profile(p: argparse.ArgumentParser) -> None:
    p.add_argument("data")
    p.add_argument("--target", required=True)
    p.add_argument("--task", choices=TASK_CHOICES)
    p.set_defaults(func=commands.cmd_profile)


def _predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", required=True, help="where to write predictions (.csv, .parquet or .feather)")
    p.add_argument("--proba", action="store_true", help="also write class probabilities (classification)")
    p.set_defaults(func=commands.cmd_predict)


def _doctor(p: argparse.ArgumentParser) -> None:
    p.set_defaults(func=commands.cmd_doctor)


def _keras_backends(p: argparse.ArgumentParser) -> None:
    p.add_argument("--show", action="store_true", help="print the cached measurements; measure nothing")
    p.add_argument("--backends", nargs="+", choices=["tensorflow", "jax", "torch"],
                   help="measure only these (default: every installed one)")
    p.add_argument("--batches", type=int, default=300, help="timed mini-batches per backend (default 300)")
    p.set_defaults(func=commands.cmd_keras_backends)


#: (name, help, arguments) per sub-command, in the order ``automl --help`` lists them.
SUBCOMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None]]] = [
    ("run", "Search for the best model on a CSV, Parquet or Feather file.", _run),
    ("quick-run", "A short search; on bundled demo data when no file is given.", _quick_run),
    ("resume", "Continue a stopped or finished run's search (its study is kept in RUN_DIR/search).", _resume),
    ("worker", "Join a search kept in a database: run its trials until the main process finishes.", _worker),
    ("recommend", "Rank the frameworks for a dataset on this machine, with reasons; trains nothing.", _recommend),
    ("profile", "Profile a dataset: column kinds, missing values, task and classes.", _profile),
    ("predict", "Predict with a saved run directory on a CSV, Parquet or Feather file.", _predict),
    ("doctor", "Show cores, memory, GPUs and which frameworks are installed and can use a GPU.", _doctor),
    ("keras-backends", "Measure Keras 3's backends (TensorFlow, JAX, torch) on this machine; "
     "search_options={'keras_backend': 'auto'} then picks the fastest.", _keras_backends),
]
