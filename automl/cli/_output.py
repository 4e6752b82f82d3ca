"""How the command line prints: JSON for machines, plain text sections for people."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def leaderboard_text(result: Any, rows: int = 15) -> str:
    drop = [c for c in ("params", "score", "fold_scores") if c in result.leaderboard]
    board = result.leaderboard.drop(columns=drop).head(rows)
    return board.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.5g}")


def model_text(model: Any) -> str:
    """The fitted model in one line: the estimator after preprocessing, or the ensemble's members."""
    members = getattr(model, "members", None)
    if members is not None:
        return "weighted ensemble of " + ", ".join(model_text(m) for m in members)
    steps = getattr(model, "steps", None)
    final = steps[-1][1] if steps else model
    return " ".join(repr(final).split())


def report(result: Any, args: argparse.Namespace, wall: float) -> int:
    """Print a finished (or interrupted) run; exit status 130 when Ctrl-C cut it short."""
    saved = None if result.run_dir is None else Path(result.run_dir)
    run_id = None
    if getattr(args, "mlflow", None):
        from automl.report import log_to_mlflow

        run_id = log_to_mlflow(result, tracking_uri=args.mlflow, experiment=args.experiment)
    status = 130 if result.interrupted else 0
    if args.json:
        print_json(
            {
                "best_framework": result.best_framework, "best_model": result.best_model_family,
                "best_params": result.best_params, "metric": result.metric.name,
                "best_score": result.best_score, "wall_seconds": wall, "refit": result.refit,
                "recommendation": result.recommendation.to_dict(),
                "leaderboard": json.loads(result.leaderboard.to_json(orient="records", default_handler=str)),
                "run_dir": None if saved is None else str(saved),
                "mlflow_run_id": run_id,
                "interrupted": result.interrupted,
                "framework_report": result.framework_report().to_dict(),
            }
        )
        return status
    print("== Hardware ==")
    print(result.hardware.summary())
    print("\n== Dataset ==")
    print(result.profile.summary())
    print("\n== " + result.recommendation.summary())
    print(f"\n== Leaderboard ({len(result.leaderboard)} trials, {result.validation}) ==")
    print(leaderboard_text(result))
    print("\n== Which framework ==")
    print(str(result.framework_report()))
    print("\n== Best model ==")
    print(result.summary(verdict=False))  # the report above opens with the verdict
    print(f"Model: {model_text(result.best_model)}")
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
