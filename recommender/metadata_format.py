"""The meta-dataset's run-line format, shared by the benchmark that builds it and by users who add
their own searches to it (``result.framework_report().save_to_metadata(path, df)``).

:data:`RUN_FIELDS` are the fields of one line of ``benchmarks/results/metadata_runs.jsonl`` (one
dataset x framework); ``tests/test_framework_report.py`` checks they match
``benchmarks.metadata.RUN_FIELDS``. A user's line is scored on the search's own validation, not on
a separate test split: ``test`` says so, and ``test_score``, ``constant_score``, ``best_test_score``
and ``normalised_score`` hold the validation figures (the constant predictor scored on the
fitted rows). Fields a user's search does not measure are ``None``.
"""

from __future__ import annotations

import datetime
import json
import uuid
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
RUN_FIELDS = (
    "format_version", "run_id", "status", "reason", "pool", "dataset", "group", "task", "rows", "train_rows",
    "test_rows", "features", "dropped_rare_class_rows", "framework", "budget", "n_jobs", "seed", "hardware_id",
    "hardware", "load_before", "nice", "meta", "validation", "fits_per_trial", "fold_train_rows", "subsample_rows",
    "n_trials", "n_complete", "n_pruned", "n_failed", "n_truncated", "best_family", "val_metric", "val_score",
    "metric", "higher_is_better", "test", "test_score", "constant_score", "best_test_score", "normalised_score",
    "seconds_per_trial_mean", "seconds_per_trial_median", "fold_seconds_median", "fit_wall_seconds",
    "predict_seconds", "run_wall_seconds", "overhead_seconds", "baseline_mb", "peak_mb", "maxrss_mb",
    "peak_threads", "rule_based", "messages", "automl_commit", "code_dirty", "versions", "date", "command",
    "families", "families_tried", "normalise_hardware_id", "supersedes",
)
USER_POOL = "user"
VALIDATION_AS_TEST = "validation (the search's own folds or holdout; no separate test rows)"


def normalised(score: float | None, constant: float | None, best: float | None) -> float | None:
    """``(score - constant) / (best - constant)``, clipped at 0 (scores greater-is-better); ``None``
    when a figure is missing or the best does not beat the constant."""
    if score is None or constant is None or best is None or best - constant <= 0:
        return None
    return round(max(0.0, (score - constant) / (best - constant)), 6)


def run_line(*, dataset: str, task: str, framework: str, budget: float, hardware: dict[str, Any],
             meta: dict[str, Any], validation: str, rows: int, features: int, counts: tuple[int, int, int],
             metric: str, score: float | None, constant: float | None, best: float | None,
             normalised_score: float | None, tied_with_best: bool | None) -> dict[str, Any]:
    """One line in :data:`RUN_FIELDS` order for a framework of a user's search."""
    complete, pruned, failed = counts
    values = {
        "format_version": FORMAT_VERSION, "run_id": uuid.uuid4().hex, "status": "ok" if score is not None else "failed",
        "reason": None if score is not None else "no trial finished", "pool": USER_POOL, "dataset": dataset,
        "group": dataset, "task": task, "rows": rows, "features": features, "framework": framework, "budget": budget,
        "hardware": hardware, "meta": meta, "validation": validation, "n_trials": complete + pruned + failed,
        "n_complete": complete, "n_pruned": pruned, "n_failed": failed, "val_metric": metric, "val_score": score,
        "metric": metric, "higher_is_better": True, "test": VALIDATION_AS_TEST, "test_score": score,
        "constant_score": constant, "best_test_score": best, "normalised_score": normalised_score,
        "date": datetime.date.today().isoformat(), "command": "AutoMLResult.framework_report().save_to_metadata",
        "messages": [] if tied_with_best is None else [f"tied_with_best={tied_with_best}"],
    }
    return {f: values.get(f) for f in RUN_FIELDS}


def append_runs(path: str | Path, lines: list[dict[str, Any]]) -> Path:
    """Append ``lines`` to the JSONL file ``path`` (created with its folder if absent)."""
    out = Path(path)
    if out.suffix != ".jsonl":
        raise ValueError(f"path must name a .jsonl file (one run a line), got {str(out)!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, default=str) + "\n")
    return out
