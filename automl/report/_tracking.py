"""Optional MLflow logging of a result: one parent run, a nested run per trial, the model as artifacts.

    >>> result = automl.fit(df, "y", time_budget=60)
    >>> automl.report.log_to_mlflow(result, tracking_uri="sqlite:///mlflow.db", experiment="churn")

or ``automl run data.csv --target y --mlflow sqlite:///mlflow.db``. The parent run holds the
search settings, the best score and framework, the recommendation (``recommendation.json``) and
the saved run directory (``run/``, loadable with ``automl.load`` after download); each trial's
nested run holds its framework, model family, parameters, score, fit seconds and state.
MLflow itself is imported only here (``pip install 'automl-recommender[mlflow]'``).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl.result import AutoMLResult

logger = logging.getLogger("automl")

#: MLflow's limit on a parameter value's length; longer values are cut.
MAX_PARAM_CHARS = 500


def _import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError as e:
        raise ImportError("MLflow logging needs mlflow: pip install 'automl-recommender[mlflow]'") from e
    return mlflow


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:MAX_PARAM_CHARS]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(float(value))


def log_to_mlflow(
    result: AutoMLResult,
    *,
    tracking_uri: str | None = None,
    experiment: str = "automl",
    run_name: str | None = None,
    log_model: bool = True,
) -> str:
    """Log ``result`` to MLflow and return the parent run's id.

    ``tracking_uri`` defaults to MLflow's own setting (``MLFLOW_TRACKING_URI``).
    """
    mlflow = _import_mlflow()
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    metric = result.metric.display_name
    board = result.leaderboard
    name = run_name or f"automl-{result.profile.target}-{result.best_framework}"
    with mlflow.start_run(run_name=name) as parent:
        mlflow.log_params(
            {
                "target": result.profile.target,
                "task": result.task,
                "metric": result.metric.name,
                "time_budget": result.time_budget,
                "validation": _param(result.validation),
                "candidates": _param(result.recommendation.frameworks),
                "n_rows": result.profile.n_rows,
                "n_features": result.profile.n_features,
            }
        )
        mlflow.set_tags(
            {
                "automl.best_framework": result.best_framework,
                "automl.best_model": result.best_model_family,
                "automl.refit": result.refit[:MAX_PARAM_CHARS],
            }
        )
        mlflow.log_metrics(
            {
                f"best_{metric}": float(result.best_metric_value),
                "best_score": float(result.best_score),
                "elapsed_seconds": float(result.elapsed_seconds),
                "n_trials": float(len(board)),
            }
        )
        mlflow.log_dict(result.recommendation.to_dict(), "recommendation.json")
        for row in board.to_dict(orient="records"):
            with mlflow.start_run(run_name=f"trial {row['trial']}", nested=True):
                params = {"framework": row["framework"], "model": row["model"], "state": row["state"]}
                params.update({k: _param(v) for k, v in (row.get("params") or {}).items()})
                mlflow.log_params(params)
                metrics = {metric: row.get(metric), "score": row.get("score"), "fit_seconds": row.get("fit_seconds")}
                mlflow.log_metrics({k: float(v) for k, v in metrics.items() if _finite(v)})
                if row.get("failure_reason"):
                    mlflow.set_tag("failure_reason", str(row["failure_reason"])[:MAX_PARAM_CHARS])
        if log_model:
            with tempfile.TemporaryDirectory() as tmp:
                saved = Path(tmp) / "run"
                from automl.io import save_run

                save_run(result, saved, plots=result.study is not None)
                mlflow.log_artifacts(str(saved), artifact_path="run")
        run_id = str(parent.info.run_id)
    logger.info("logged %d trials to MLflow experiment %r (run %s)", len(board), experiment, run_id)
    return run_id
