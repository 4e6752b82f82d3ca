"""The PyTorch families side by side: the best trial of each (plain MLP, RealMLP, TabM) at a fixed budget.

Per dataset (the suite's 75/25 split, see ``_suite``) and per family: a small Optuna search of that
family alone (its default configuration first, then TPE), every trial fitted on 75% of the training
rows under the deadline left, chosen on the other 25% by the suite's main metric; the chosen
trial is scored on the test split. ``--budget`` is seconds per family and dataset. Prints a table
and writes one JSON object per (dataset, family) to ``benchmarks/results/torch_families_<budget>s.jsonl``.

    python -m benchmarks.torch_families --budget 60 --datasets mfeat_factors
    python -m benchmarks.torch_families --budget 60 --datasets mfeat_factors geographical_music california_houses

``--framework keras`` runs the Keras families (``realmlp``, ``mlp``) through the same code, on the
backend ``KERAS_BACKEND`` names (written as ``backend`` in each row; results in
``keras_families_<budget>s_<backend>.jsonl``), so Keras and PyTorch compete on the same architecture:

    KERAS_BACKEND=jax python -m benchmarks.torch_families --framework keras --families realmlp --budget 60
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks._suite import HIGHER_IS_BETTER, MAIN_METRIC, load_split, read_manifest, score
from benchmarks.dev_suite import DEFAULT_SUITE, RESULTS

FAMILIES = ("mlp", "realmlp", "tabm")
FRAMEWORKS = {"torch": FAMILIES, "keras": ("mlp", "realmlp")}


def _holdout(model: Any, X: pd.DataFrame, y: pd.Series, task: str) -> dict[str, float]:
    if task == "regression":
        return score(task, y, model.predict(X), None, None)
    return score(task, y.astype(str), None, model.predict_proba(X), [str(c) for c in model.classes_])


def search_family(
    family: str, train: pd.DataFrame, target: str, task: str, budget: float, n_jobs: int, framework: str = "torch"
) -> dict:
    """The best trial of ``framework``'s ``family`` within ``budget`` seconds, chosen on a split of ``train``."""
    import optuna
    from sklearn.model_selection import train_test_split

    from recommender import profile_dataset
    from search_spaces import fit_budget, get_adapter

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    adapter = get_adapter(framework)
    spec = profile_dataset(train, target).feature_spec()
    fit, val = train_test_split(
        train, test_size=0.25, random_state=0, stratify=train[target] if task != "regression" else None
    )
    metric = MAIN_METRIC[task]
    study = optuna.create_study(
        direction="maximize" if HIGHER_IS_BETTER[metric] else "minimize",
        sampler=optuna.samplers.TPESampler(seed=0),
    )
    default = next(c for c in adapter.default_configs(spec) if c.family == family)
    study.enqueue_trial({k: v for k, v in default.trial_params().items() if k != "framework"})
    started = time.monotonic()
    deadline = started + budget
    best: dict[str, Any] = {"value": None, "model": None, "params": None, "epochs": None}
    while time.monotonic() < deadline - 1.0:
        if len(study.trials) > 0:
            study.enqueue_trial({f"{framework}.family": family})
        trial = study.ask()
        config = adapter.suggest(trial, spec)
        model = adapter.build(config, spec, seed=0, n_jobs=n_jobs)
        try:
            with fit_budget(deadline=deadline, predict_rows=len(val)):  # the holdout is scored in the budget
                model.fit(fit[list(spec.columns)], fit[target])
            value = _holdout(model, val[list(spec.columns)], val[target], task)[metric]
        except Exception as e:  # a failed trial is recorded and the search goes on, as in automl.fit
            logging.getLogger(__name__).warning("%s trial %d failed: %s", family, trial.number, e)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        study.tell(trial, value)
        if study.best_trial.number == trial.number:
            epochs = getattr(model[-1], "n_epochs_", None)  # the Keras estimators do not record it
            best = {"value": value, "model": model, "params": config.params, "epochs": epochs}
    return {**best, "trials": len(study.trials), "seconds": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per family and dataset")
    ap.add_argument("--datasets", nargs="+", default=["mfeat_factors"], help="names from the manifest")
    ap.add_argument("--framework", choices=list(FRAMEWORKS), default="torch")
    ap.add_argument("--families", nargs="+", choices=FAMILIES, help="default: the framework's families")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    entries = {e["name"]: e for e in read_manifest(args.suite)}
    unknown = [d for d in args.datasets if d not in entries]
    if unknown:
        ap.error(f"unknown dataset(s) {unknown}; the suite has {sorted(entries)}")
    families = args.families or list(FRAMEWORKS[args.framework])
    backend = ""
    if args.framework == "keras":
        from search_spaces._keras_model import import_keras

        backend = import_keras(args.n_jobs).backend.backend()
    stem = f"keras_families_{args.budget:g}s_{backend}" if backend else f"torch_families_{args.budget:g}s"
    out = args.out or RESULTS / f"{stem}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.datasets:
        entry = entries[name]
        train, test = load_split(entry, args.suite)
        task, target = entry["task"], entry["target"]
        for family in families:
            found = search_family(family, train, target, task, args.budget, args.n_jobs, args.framework)
            holdout = _holdout(found["model"], test, test[target], task) if found["model"] is not None else {}
            row = {
                "dataset": name, "task": task, "framework": args.framework, "backend": backend,
                "family": family, "budget_s": args.budget, "trials": found["trials"],
                "seconds": found["seconds"], f"val_{MAIN_METRIC[task]}": found["value"], "best_epochs": found["epochs"],
                **{f"test_{k}": round(v, 5) for k, v in holdout.items()}, "best_params": found["params"],
            }
            rows.append(row)
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps({k: v for k, v in row.items() if k != "best_params"}), flush=True)
    table = pd.DataFrame(rows).drop(columns=["best_params"])
    print(table.to_string(index=False))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
