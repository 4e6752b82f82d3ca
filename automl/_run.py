"""What ``fit``, ``resume`` and ``automl worker`` share: prepare the search, run it, build the result.

:func:`prepare` validates the input and arguments, profiles, recommends and plans the
validation (nothing trained); :func:`fit_frame` opens the study where it lives, records the run's
:class:`~automl.search.RunSpec`, searches and returns the result (saved to the run directory if
there is one); :func:`build_result` turns the search's outcome into the user's result.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from automl import _validation as v
from automl.errors import InputError
from automl.metrics import Metric, resolve_metric
from automl.result import AutoMLResult, leaderboard_frame
from automl.search import Search, SearchOutcome, SearchSettings, _study
from automl.search._resampling import CV5_REPEATS, Resampling, fits_per_trial, make_resampling
from automl.search._spec import DataSource, RunSpec
from automl.search._time_plan import sampled_rows
from recommender import (
    DatasetProfile,
    HardwareProfile,
    Recommendation,
    detect_hardware,
    keras_backends,
    profile_dataset,
    recommend_frameworks,
)
from search_spaces import FeatureSpec, FrameworkAdapter, Task
from search_spaces.keras_adapter import KerasAdapter

logger = logging.getLogger("automl")

#: At most this many training levels per categorical column go into the saved schema.
MAX_SCHEMA_CATEGORIES = 1000


@dataclass
class Prepared:
    """Everything the search needs, derived from the data and the arguments (nothing trained)."""

    df: pd.DataFrame
    target: str
    X: pd.DataFrame
    y: pd.Series
    profile: DatasetProfile
    spec: FeatureSpec
    metric: Metric
    hardware: HardwareProfile
    recommendation: Recommendation
    resampling: Resampling
    adapters: dict[str, FrameworkAdapter]
    options: dict[str, Any]
    dropped_missing_target: int
    #: The frameworks the user named (``frameworks=``, or Keras for a custom HyperModel).
    named: tuple[str, ...] = ()

    def search(self, settings: SearchSettings) -> SearchOutcome:
        return Search(
            self.X, self.y, self.spec, self.recommendation, self.metric, self.resampling, settings, self.adapters
        ).run()


def prepare(
    df: pd.DataFrame, target: str, *, time_budget: float, n_trials: int | None, metric: str | None,
    frameworks: Sequence[str] | None, task: Task | None, device: str, seed: int, n_jobs: int,
    keras_hypermodel: Any, ensemble: bool, search_options: dict[str, Any] | None,
) -> Prepared:
    """Validate the input and arguments, profile, recommend and plan the validation."""
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
        if names is not None and KerasAdapter.name not in names:
            names = [*names, KerasAdapter.name]
        adapters[KerasAdapter.name] = KerasAdapter(hypermodel=keras_hypermodel)
    if names is None or KerasAdapter.name in names:
        try:  # before anything imports keras: Keras 3 fixes its backend at import
            keras_backends.apply(options.get("keras_backend", "auto"))
        except keras_backends.BackendError as e:
            raise InputError(str(e)) from e
    rec = recommend_frameworks(
        prof, hw, time_budget=time_budget, frameworks=names, device=device,  # type: ignore[arg-type]
        fits_per_trial=fits_per_trial(prof.n_rows, repeats), include=tuple(adapters),
        sampled_rows=sampled_rows(prof.n_rows) if options.get("subsample", True) else None,
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
    options["cv_repeats"] = repeats
    return Prepared(
        df, target, X, y, prof, spec, chosen_metric, hw, rec, resampling, adapters, options,
        clean.dropped_missing_target, tuple(dict.fromkeys([*(names or []), *adapters])),
    )


def fit_frame(
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
    study_name: str | None,
    run_dir: str | Path | None,
    source: str | None,
    keras_hypermodel: Any,
    verbosity: int,
    ensemble: bool,
    search_options: dict[str, Any] | None,
    resumed: RunSpec | None = None,
    save_plots: bool = False,
    heartbeat: int = _study.HEARTBEAT_SECONDS,
) -> AutoMLResult:
    """``automl.fit`` on a DataFrame (``source``: the file it was read from), or the continuation of
    the run ``resumed`` (its spec) in ``run_dir``."""
    started = time.monotonic()
    if study_name is not None and (not isinstance(study_name, str) or not study_name.strip()):
        raise InputError(f"study_name must be a non-empty string, got {study_name!r}")
    run = None if run_dir is None else Path(run_dir)
    if run is not None and resumed is None:
        check_new_run_dir(run)
    p = prepare(
        df, target, time_budget=time_budget, n_trials=n_trials, metric=metric, frameworks=frameworks, task=task,
        device=device, seed=seed, n_jobs=n_jobs, keras_hypermodel=keras_hypermodel, ensemble=ensemble,
        search_options=search_options,
    )
    if resumed is not None:
        same_frameworks(p.recommendation, resumed.frameworks)
    repeats = p.options.pop("cv_repeats")
    logger.info(
        "%s task, %d rows x %d features; %s; metric %s; candidates: %s",
        p.profile.task, p.profile.n_rows, p.profile.n_features, p.resampling.describe(), p.metric.name,
        ", ".join(p.recommendation.frameworks),
    )
    with contextlib.ExitStack() as stack:
        if storage is not None:  # the user's storage; run_dir only receives the result
            storage = _study.open_storage(storage, heartbeat=heartbeat)
        elif run is not None:
            stack.enter_context(_study.RunLock(run / _study.SEARCH_DIR))
            storage = _study.journal_storage(run / _study.SEARCH_DIR / _study.JOURNAL)
            study_name = _study.STUDY_NAME
        spec = resumed or RunSpec(
            target=p.target, task=p.profile.task, metric=p.metric.name, frameworks=tuple(p.recommendation.frameworks),
            device=device, seed=seed, n_jobs=n_jobs, time_budget=float(time_budget), n_trials=n_trials,
            options={**p.options, "cv_repeats": repeats},
            # Hashing the data is for a study that outlives this call (resume, workers), not an in-memory one.
            data=DataSource(source, len(df), None if storage is None else _study.fingerprint(df)),
            started_epoch=time.time() - (time.monotonic() - started),
            custom_keras=keras_hypermodel is not None, heartbeat=heartbeat,
        )
        settings = SearchSettings(
            time_budget=float(time_budget), n_trials=n_trials, seed=seed, n_jobs=n_jobs,
            started=started, storage=storage, study_name=study_name, verbosity=verbosity,
            spec=spec, frameworks=list(spec.frameworks), named=() if resumed is not None else p.named, **p.options,
        )
        result = build_result(p, p.search(settings), started, float(time_budget))
        if run is not None:
            result.save(run, overwrite=True, plots=save_plots, data=p.df if save_plots else None)
    return result


def check_new_run_dir(run: Path) -> None:
    """A run directory for a new search must be new or empty (a finished or stopped run is resumed)."""
    if run.exists() and (not run.is_dir() or any(run.iterdir())):
        hint = "; continue it with automl.resume(run_dir)" if (run / "search").is_dir() else ""
        raise InputError(f"run_dir {str(run)!r} already exists and is not an empty folder{hint}; choose a new folder")


def same_frameworks(rec: Recommendation, frameworks: Sequence[str]) -> None:
    """A resumed search or a worker searches exactly the study's frameworks (its search space)."""
    missing = [f for f in frameworks if f not in rec.frameworks]
    if missing:
        reasons = {e.framework: e.reason for e in rec.excluded}
        detail = "; ".join(f"{f}: {reasons.get(f, 'not available')}" for f in missing)
        raise InputError(
            f"the study searches {', '.join(frameworks)}, but {', '.join(missing)} cannot run here ({detail}); "
            "install it in this environment"
        )


def spec_data(spec: RunSpec, df: pd.DataFrame | None) -> tuple[pd.DataFrame, str | None]:
    """The study's data: ``df`` when given, else the recorded file; refused if it changed since."""
    source = spec.data.path
    if df is None:
        if not source:
            raise InputError(
                "the run was started on a DataFrame (no file recorded): pass the same frame, "
                "e.g. automl.resume(run_dir, df)"
            )
        from automl.io import read_table

        df = read_table(source)
    if _study.fingerprint(df) != spec.data.fingerprint:
        where = "the DataFrame passed" if source is None else f"{source}"
        raise InputError(
            f"{where} differs from the data the run was started on ({spec.data.rows:,} rows then, "
            f"{len(df):,} now, or changed values); resume with the original data or start a new run"
        )
    return df, source


def build_result(p: Prepared, outcome: SearchOutcome, started: float, time_budget: float) -> AutoMLResult:
    """The user's result from the search's outcome (a constant baseline when no trial finished)."""
    messages = list(outcome.messages)
    if p.dropped_missing_target:
        messages.append(f"dropped {p.dropped_missing_target:,} rows with a missing target")
    board = leaderboard_frame(outcome.study, p.metric)
    if outcome.best_trial is None:
        model, fam, framework, params, score = constant_baseline(
            p.X, p.y, p.spec.is_classification, p.metric, p.resampling
        )
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
        metric=p.metric,
        task=p.profile.task,
        leaderboard=board,
        recommendation=p.recommendation,
        profile=p.profile,
        hardware=p.hardware,
        study=outcome.study,
        feature_columns=list(p.spec.columns),
        feature_dtypes={str(c): str(p.X[c].dtype) for c in p.X.columns},
        feature_kinds={c.name: c.kind for c in p.profile.columns if c.name in p.spec.columns},
        feature_categories=_categories(p.X, p.spec.categorical + p.spec.boolean),
        validation=outcome.validation or p.resampling.describe(),
        refit=refit,
        elapsed_seconds=time.monotonic() - started,
        time_budget=time_budget,
        messages=messages,
        ensemble=list(outcome.ensemble),
        interrupted=outcome.interrupted,
    )


def _categories(X: pd.DataFrame, columns: Sequence[str]) -> dict[str, list[str]]:
    """Training levels of categorical columns, as the encoders see them (strings)."""
    out = {}
    for col in columns:
        levels = X[col].dropna().astype(str).unique()
        out[col] = sorted(levels.tolist())[:MAX_SCHEMA_CATEGORIES]
    return out


def constant_baseline(
    X: pd.DataFrame, y: pd.Series, classification: bool, metric: Any, resampling: Any
) -> tuple[Any, str, str, dict[str, Any], float]:
    """A constant predictor, so that even a budget too small for one trial returns a model."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    model = DummyClassifier(strategy="prior") if classification else DummyRegressor()
    tr, va = resampling.splits[0]
    score = float(metric.scorer()(model.fit(X.iloc[tr], y.iloc[tr]), X.iloc[va], y.iloc[va]))
    model.fit(X, y)
    return model, "constant", "sklearn", {}, score
