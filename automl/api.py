"""The Python entry points: fit, recommend, profile, hardware."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from automl import _validation as v
from automl._progress import log_output
from automl._resampling import CV5_REPEATS, fits_per_trial, make_resampling
from automl._search import Search, SearchSettings
from automl.errors import InputError
from automl.metrics import resolve_metric
from automl.result import AutoMLResult, leaderboard_frame
from recommender import (
    DatasetProfile,
    HardwareProfile,
    Recommendation,
    detect_hardware,
    profile_dataset,
    recommend_frameworks,
)
from search_spaces import FrameworkAdapter, Task
from search_spaces.keras_adapter import KerasAdapter

logger = logging.getLogger("automl")


def profile(df: pd.DataFrame, target: str, *, task: Task | None = None) -> DatasetProfile:
    """Profile a dataset for predicting ``target``: column kinds, missing values, task, classes."""
    v.check_frame(df, target)
    v.check_arguments(time_budget=1, n_trials=None, task=task, device="auto", n_jobs=1, seed=0)
    v.check_features(df, target)
    return profile_dataset(df, target, task=task)


def hardware(*, refresh: bool = False) -> HardwareProfile:
    """Cores, memory, GPUs and the frameworks installed here, without importing any of them."""
    return detect_hardware(refresh=refresh)


def recommend(
    df: pd.DataFrame,
    target: str,
    *,
    time_budget: float = 60,
    frameworks: Sequence[str] | None = None,
    task: Task | None = None,
    device: str = "auto",
) -> Recommendation:
    """Rank the frameworks for this dataset and machine, with reasons and cost; trains nothing."""
    v.check_frame(df, target)
    v.check_arguments(time_budget=time_budget, n_trials=None, task=task, device=device, n_jobs=1, seed=0)
    names = v.check_frameworks(frameworks)
    clean = v.clean_target(df, target)
    v.check_features(clean.frame, target)
    prof = profile_dataset(clean.frame, target, task=task)
    return recommend_frameworks(
        prof, detect_hardware(), time_budget=time_budget, frameworks=names, device=device,  # type: ignore[arg-type]
        fits_per_trial=fits_per_trial(prof.n_rows),
    )


def fit(
    df: pd.DataFrame,
    target: str,
    *,
    time_budget: float = 60,
    n_trials: int | None = None,
    metric: str | None = None,
    frameworks: Sequence[str] | None = None,
    task: Task | None = None,
    device: str = "auto",
    seed: int = 0,
    n_jobs: int = -1,
    storage: Any = None,
    keras_hypermodel: Any = None,
    verbosity: int = 1,
    ensemble: bool = True,
    search_options: dict[str, Any] | None = None,
) -> AutoMLResult:
    """Profile, recommend, search one Optuna study across frameworks, and refit the best model.

    Returns within ``time_budget`` seconds plus a small margin (documented target: 5% + 5 s),
    refit included, always with a fitted model. ``n_jobs`` is the threads each model may use
    (-1: all cores). ``storage`` is any Optuna storage or URL (default: in memory).
    ``keras_hypermodel`` is a KerasTuner ``HyperModel`` of your own; it joins the study as the
    Keras family ``custom`` (see :mod:`search_spaces.keras_bridge` for what ``build(hp)`` can read).
    ``verbosity``: 0 warnings only; 1 a live progress bar (log lines when output is not a terminal);
    2 also a line per trial. Log lines use the ``automl`` logger; configure ``logging`` to route them.
    ``ensemble``: replace the best model by a greedy weighted ensemble of the best trials when that
    validates better. ``search_options`` switches the search's features, mainly to measure them:
    ``portfolio`` (bool, warm-start configurations first), ``pruner`` ("sha", "median", "none") and
    ``allocation`` ("cost": the next framework by estimated cost for improvement; "sampler": TPE's)
    , ``subsample`` (bool: on large data, trials train on a sample of the rows; the refit uses all)
    and ``cv_repeats`` (1-5, default 3: how often 5-fold cross-validation is drawn on up to 1,000 rows).
    """
    if verbosity not in (0, 1, 2):
        raise InputError(f"verbosity must be 0, 1 or 2, got {verbosity!r}")
    with log_output(verbosity):
        return _fit(
            df, target, time_budget=time_budget, n_trials=n_trials, metric=metric, frameworks=frameworks,
            task=task, device=device, seed=seed, n_jobs=n_jobs, storage=storage,
            keras_hypermodel=keras_hypermodel, verbosity=verbosity, ensemble=ensemble,
            search_options=search_options,
        )


def _fit(
    df: pd.DataFrame,
    target: str,
    *,
    time_budget: float,
    n_trials: int | None,
    metric: str | None,
    frameworks: Sequence[str] | None,
    task: Task | None,
    device: str,
    seed: int,
    n_jobs: int,
    storage: Any,
    keras_hypermodel: Any,
    verbosity: int,
    ensemble: bool,
    search_options: dict[str, Any] | None,
) -> AutoMLResult:
    started = time.monotonic()
    options = v.check_search_options(search_options, ensemble)
    repeats = options.pop("cv_repeats", CV5_REPEATS)
    v.check_frame(df, target)
    df, target = v.string_columns(df, target)
    v.check_arguments(time_budget=time_budget, n_trials=n_trials, task=task, device=device, n_jobs=n_jobs, seed=seed)
    names = v.check_frameworks(frameworks)
    clean = v.clean_target(df, target)
    v.check_features(clean.frame, target)
    prof = profile_dataset(clean.frame, target, task=task, seed=seed)
    v.check_task(prof.task, clean.frame[target])
    chosen_metric = resolve_metric(metric, prof.task)
    hw = detect_hardware()
    adapters: dict[str, FrameworkAdapter] = {}
    if keras_hypermodel is not None:
        if not callable(getattr(keras_hypermodel, "build", None)):
            raise InputError(
                "keras_hypermodel must be a KerasTuner HyperModel (an object with build(hp)), "
                f"got {type(keras_hypermodel).__name__}"
            )
        if names is not None and "keras" not in names:
            names = [*names, "keras"]
        adapters["keras"] = KerasAdapter(hypermodel=keras_hypermodel)
    rec = recommend_frameworks(
        prof, hw, time_budget=time_budget, frameworks=names, device=device,  # type: ignore[arg-type]
        fits_per_trial=fits_per_trial(prof.n_rows, repeats), include=tuple(adapters),
    )
    if not rec.candidates:
        reasons = "; ".join(f"{e.framework}: {e.reason}" for e in rec.excluded)
        raise InputError(f"no requested framework can run here ({reasons}); install one or pass other frameworks")
    spec = prof.feature_spec()
    if not spec.columns:
        raise InputError(
            "no usable feature column: every feature was dropped ("
            + "; ".join(f"{k}: {r}" for k, r in prof.dropped.items())
            + "); add informative columns"
        )
    X = clean.frame[list(spec.columns)]
    y = clean.frame[target]
    resampling = make_resampling(y, spec.is_classification, seed, repeats)
    logger.info(
        "%s task, %d rows x %d features; %s; metric %s; candidates: %s",
        prof.task, prof.n_rows, prof.n_features, resampling.describe(), chosen_metric.name,
        ", ".join(rec.frameworks),
    )
    settings = SearchSettings(
        time_budget=float(time_budget), n_trials=n_trials, seed=seed, n_jobs=n_jobs,
        started=started, storage=storage, verbosity=verbosity, **options,
    )
    outcome = Search(X, y, spec, rec, chosen_metric, resampling, settings, adapters).run()
    messages = list(outcome.messages)
    if clean.dropped_missing_target:
        messages.append(f"dropped {clean.dropped_missing_target:,} rows with a missing target")
    board = leaderboard_frame(outcome.study, chosen_metric)
    if outcome.best_trial is None:
        model, fam, framework, params, score = _fallback(X, y, spec.is_classification, chosen_metric, resampling)
        messages.append("no trial finished within the budget: returned a constant (prior) baseline")
        refit = "constant baseline fitted on all rows"
    else:
        model, framework = outcome.best_model, outcome.best_config.framework  # type: ignore[union-attr]
        fam, params = outcome.best_config.family, dict(outcome.best_config.params)  # type: ignore[union-attr]
        score = float(outcome.best_trial.value)  # type: ignore[arg-type]
        refit = outcome.refit
        if outcome.ensemble:
            weight_by_framework: dict[str, float] = {}
            for m in outcome.ensemble:
                weight_by_framework[m["framework"]] = weight_by_framework.get(m["framework"], 0.0) + m["weight"]
            framework = max(weight_by_framework, key=weight_by_framework.__getitem__)
            fam, params = "ensemble", {"members": outcome.ensemble}
            score = float(outcome.ensemble_score)  # type: ignore[arg-type]
    if outcome.interrupted:
        messages.append("the search was interrupted; the result holds the best model found until then")
    return AutoMLResult(
        best_framework=framework,
        best_model_family=fam,
        best_model=model,
        best_params=params,
        best_score=score,
        metric=chosen_metric,
        task=prof.task,
        leaderboard=board,
        recommendation=rec,
        profile=prof,
        hardware=hw,
        study=outcome.study,
        feature_columns=list(spec.columns),
        feature_dtypes={str(c): str(X[c].dtype) for c in X.columns},
        feature_kinds={c.name: c.kind for c in prof.columns if c.name in spec.columns},
        feature_categories=_categories(X, spec.categorical + spec.boolean),
        validation=resampling.describe(),
        refit=refit,
        elapsed_seconds=time.monotonic() - started,
        time_budget=float(time_budget),
        messages=messages,
        ensemble=list(outcome.ensemble),
    )


#: At most this many training levels per categorical column go into the saved schema.
MAX_SCHEMA_CATEGORIES = 1000


def _categories(X: pd.DataFrame, columns: Sequence[str]) -> dict[str, list[str]]:
    """Training levels of categorical columns, as the encoders see them (strings)."""
    out = {}
    for col in columns:
        levels = X[col].dropna().astype(str).unique()
        out[col] = sorted(levels.tolist())[:MAX_SCHEMA_CATEGORIES]
    return out


def load(path: str) -> AutoMLResult:
    """Load a run directory written by ``result.save(path)`` (or ``automl run --out``).

    Checks the manifest's checksums and formats before reading anything; raises
    :class:`automl.persistence.RunDirectoryError` for a missing, damaged or tampered directory.
    """
    from automl.persistence import load_result

    return load_result(path)


def _fallback(
    X: pd.DataFrame, y: pd.Series, classification: bool, metric: Any, resampling: Any
) -> tuple[Any, str, str, dict[str, Any], float]:
    """A constant predictor, so that even a budget too small for one trial returns a model."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    model = DummyClassifier(strategy="prior") if classification else DummyRegressor()
    tr, va = resampling.splits[0]
    score = float(metric.scorer()(model.fit(X.iloc[tr], y.iloc[tr]), X.iloc[va], y.iloc[va]))
    model.fit(X, y)
    return model, "constant", "sklearn", {}, score
