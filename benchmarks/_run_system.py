"""Fit one system on one dataset under one budget, in that system's own Python; print one JSON line.

    python benchmarks/_run_system.py --system flaml --suite ../shared/datasets/dev --dataset iris --budget 60

Run by ``benchmarks.compare`` with the right interpreter: this project's ``.venv`` for ``automl``,
``.venv-peers/<system>`` for the peers. The clock covers fit and predict, as a user waits for both;
the driver measures peak memory of the whole process tree from outside.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _suite import load_split, read_manifest, score  # noqa: E402


def run_automl(
    train: Any, test: Any, target: str, task: str, budget: float, seed: int, options: dict[str, Any]
) -> dict[str, Any]:
    import automl

    ensemble = options.pop("ensemble", True)
    frameworks = options.pop("frameworks", None)
    for name in options.pop("uninstalled", []):
        # Ablation: the search as it would run without this framework installed.
        from search_spaces import get_adapter

        type(get_adapter(name)).is_installed = classmethod(lambda cls: False)
    result = automl.fit(
        train, target, task=task, time_budget=budget, seed=seed, n_jobs=-1, verbosity=0, ensemble=ensemble,
        frameworks=frameworks, search_options=options or None,
    )
    features = test.drop(columns=[target])
    out: dict[str, Any] = {"best": result.best_framework, "best_model": result.best_model_family,
                           "fit_s": round(result.elapsed_seconds, 2)}  # fit alone (the promise's seconds)
    if result.ensemble:
        out["ensemble"] = [f"{m['framework']}/{m['model']}:{m['weight']}" for m in result.ensemble]
    out["trials"] = int(len(result.leaderboard))
    out["trials_by_framework"] = {str(k): int(v) for k, v in result.leaderboard.framework.value_counts().items()}
    # Where the budget went: each framework's trial seconds (wall time of its trials, folds included).
    report = result.framework_report().to_frame()
    out["seconds_by_framework"] = {str(r.framework): float(r.seconds) for r in report.itertuples() if r.seconds}
    out["refit"] = result.refit  # how the final model came to be, and why no ensemble when there is none
    if task == "regression":
        out["pred"] = result.predict(features)
    else:
        proba = result.predict_proba(features)
        out["proba"], out["classes"] = proba.to_numpy(), list(proba.columns)
    return out


def run_flaml(
    train: Any, test: Any, target: str, task: str, budget: float, seed: int, options: dict[str, Any]
) -> dict[str, Any]:
    from flaml import AutoML

    automl = AutoML()
    X, y = train.drop(columns=[target]), train[target]
    kind = "regression" if task == "regression" else "classification"
    automl.fit(X, y, task=kind, time_budget=budget, n_jobs=-1, seed=seed, verbose=0)
    features = test.drop(columns=[target])
    out: dict[str, Any] = {"best": automl.best_estimator}
    if task == "regression":
        out["pred"] = automl.predict(features)
    else:
        out["proba"], out["classes"] = automl.predict_proba(features), list(automl.classes_)
    return out


def run_autogluon(
    train: Any, test: Any, target: str, task: str, budget: float, seed: int, options: dict[str, Any],
    presets: str | None = None,
) -> dict[str, Any]:
    from autogluon.tabular import TabularPredictor

    with tempfile.TemporaryDirectory() as path:
        # random_state seeds AutoGluon's fold partitions (its default is 0, the seed these rows had before).
        predictor = TabularPredictor(
            label=target, problem_type=task, path=path, verbosity=0, learner_kwargs={"random_state": seed}
        )
        # The default preset, as a user would run it; "best_quality": bagged and stacked ensembles.
        predictor.fit(train, time_limit=budget, **({"presets": presets} if presets else {}))
        features = test.drop(columns=[target])
        out: dict[str, Any] = {"best": predictor.model_best}
        if task == "regression":
            out["pred"] = predictor.predict(features).to_numpy()
        else:
            proba = predictor.predict_proba(features)
            out["proba"], out["classes"] = proba.to_numpy(), list(proba.columns)
    return out


def run_autogluon_best(
    train: Any, test: Any, target: str, task: str, budget: float, seed: int, options: dict[str, Any]
) -> dict[str, Any]:
    return run_autogluon(train, test, target, task, budget, seed, options, presets="best_quality")


SYSTEMS = {
    "automl": run_automl, "flaml": run_flaml, "autogluon": run_autogluon, "autogluon-best": run_autogluon_best,
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", choices=sorted(SYSTEMS), required=True)
    ap.add_argument("--suite", type=Path, required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--budget", type=float, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", type=int, default=0, help="the outer 75/25 split's random state (see _suite)")
    ap.add_argument("--options", default="{}", help="JSON keyword arguments for this project's fit (ablations)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    entry = next(e for e in read_manifest(args.suite) if e["name"] == args.dataset)
    train, test = load_split(entry, args.suite, args.split)
    target, task = entry["target"], entry["task"]
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    started = time.monotonic()
    out = SYSTEMS[args.system](train, test, target, task, args.budget, args.seed, json.loads(args.options))
    wall = time.monotonic() - started
    metrics = score(task, test[target], out.pop("pred", None), out.pop("proba", None), out.pop("classes", None))
    record = {"fit_predict_s": round(wall, 2), "rows_train": len(train), **metrics, **out}
    print("RESULT " + json.dumps(record, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
