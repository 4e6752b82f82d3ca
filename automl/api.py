"""The Python entry points: fit, recommend, profile, hardware."""

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
from automl._progress import log_output
from automl.errors import InputError
from automl.metrics import Metric, resolve_metric
from automl.result import AutoMLResult, leaderboard_frame
from automl.search import _study
from automl.search._resampling import CV5_REPEATS, Resampling, fits_per_trial, make_resampling
from automl.search._search import Search, SearchSettings
from recommender import (
    DatasetProfile,
    HardwareProfile,
    Recommendation,
    detect_hardware,
    profile_dataset,
    recommend_frameworks,
)
from search_spaces import FeatureSpec, FrameworkAdapter, Task
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
    df: pd.DataFrame | str | Path,
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
    study_name: str | None = None,
    run_dir: str | Path | None = None,
    keras_hypermodel: Any = None,
    verbosity: int = 1,
    ensemble: bool = True,
    search_options: dict[str, Any] | None = None,
) -> AutoMLResult:
    """Profile, recommend, search one Optuna study across frameworks, and refit the best model.

    ``df`` is a DataFrame or the path of a CSV, Parquet or Feather file (a path lets
    ``automl worker`` processes read the same data). Returns within ``time_budget`` seconds plus a
    small margin (documented target: 5% + 5 s), refit included, always with a fitted model.
    ``n_jobs`` is the threads each model may use (-1: the cores other work leaves free).
    ``seed`` seeds the sampler, folds and models; the default cost-aware allocation also reads
    measured seconds, so for the same trials on a busier machine pass ``n_jobs=1``, ``n_trials``
    and ``search_options={"allocation": "sampler"}``.

    Where the study lives: ``run_dir`` keeps it in that folder's journal file
    (``run_dir/search/study.journal``) and writes the result there at the end; after Ctrl-C or a
    crash, :func:`resume` continues it with no trial lost or repeated. ``storage`` is any Optuna
    storage, a journal file path or a database URL such as ``postgresql://user:pw@host/db``
    (default: in memory, or the run directory's journal); with ``study_name`` other processes
    join the search with ``automl worker --storage URL --study NAME``, and a later call with the
    same storage, study name and data continues the study.

    Ctrl-C stops the search, abandons the running trial and returns the best model so far;
    a second Ctrl-C aborts.

    ``keras_hypermodel`` is a KerasTuner ``HyperModel`` of your own; it joins the study as the
    Keras family ``custom`` (see :mod:`search_spaces.keras_bridge` for what ``build(hp)`` can read).
    ``verbosity``: 0 warnings only; 1 a live progress bar (log lines when output is not a terminal);
    2 also a line per trial. Log lines use the ``automl`` logger; configure ``logging`` to route them.
    ``ensemble``: replace the best model by a greedy weighted ensemble of the best trials when that
    validates better. ``search_options`` switches the search's features, mainly to measure them:
    ``portfolio`` (bool, warm-start configurations first), ``pruner`` ("sha", "median", "none") and
    ``allocation`` ("cost": the next framework by estimated cost for improvement; "uniform": frameworks
    take turns; "sampler": TPE's)
    , ``subsample`` (bool: on large data, trials train on a sample of the rows; the refit uses all)
    and ``cv_repeats`` (1-5, default 3: how often 5-fold cross-validation is drawn on up to 1,000 rows).
    """
    if verbosity not in (0, 1, 2):
        raise InputError(f"verbosity must be 0, 1 or 2, got {verbosity!r}")
    with log_output(verbosity):
        source = None
        if isinstance(df, (str, Path)):
            from automl.io import read_table

            source, df = str(Path(df).resolve()), read_table(str(df))
        return _fit(
            df, target, time_budget=time_budget, n_trials=n_trials, metric=metric, frameworks=frameworks,
            task=task, device=device, seed=seed, n_jobs=n_jobs, storage=storage, study_name=study_name,
            run_dir=run_dir, source=source, keras_hypermodel=keras_hypermodel, verbosity=verbosity,
            ensemble=ensemble, search_options=search_options,
        )


@dataclass
class _Prepared:
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


def _prepare(
    df: pd.DataFrame, target: str, *, time_budget: float, n_trials: int | None, metric: str | None,
    frameworks: Sequence[str] | None, task: Task | None, device: str, seed: int, n_jobs: int,
    keras_hypermodel: Any, ensemble: bool, search_options: dict[str, Any] | None,
) -> _Prepared:
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
    options["cv_repeats"] = repeats
    return _Prepared(
        df, target, X, y, prof, spec, chosen_metric, hw, rec, resampling, adapters, options,
        clean.dropped_missing_target,
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
    study_name: str | None,
    run_dir: str | Path | None,
    source: str | None,
    keras_hypermodel: Any,
    verbosity: int,
    ensemble: bool,
    search_options: dict[str, Any] | None,
    resumed: dict[str, Any] | None = None,
    save_plots: bool = False,
    heartbeat: int = _study.HEARTBEAT_SECONDS,
) -> AutoMLResult:
    started = time.monotonic()
    if study_name is not None and (not isinstance(study_name, str) or not study_name.strip()):
        raise InputError(f"study_name must be a non-empty string, got {study_name!r}")
    run = None if run_dir is None else Path(run_dir)
    if run is not None and resumed is None:
        check_new_run_dir(run)
    p = _prepare(
        df, target, time_budget=time_budget, n_trials=n_trials, metric=metric, frameworks=frameworks, task=task,
        device=device, seed=seed, n_jobs=n_jobs, keras_hypermodel=keras_hypermodel, ensemble=ensemble,
        search_options=search_options,
    )
    if resumed is not None:
        _same_frameworks(p.recommendation, resumed["frameworks"])
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
        spec = resumed or {
            "target": p.target, "task": p.profile.task, "metric": p.metric.name,
            "frameworks": p.recommendation.frameworks, "device": device, "seed": seed, "n_jobs": n_jobs,
            "time_budget": float(time_budget), "n_trials": n_trials,
            "options": {**p.options, "cv_repeats": repeats},
            # Hashing the data is for a study that outlives this call (resume, workers), not an in-memory one.
            "data": {"path": source, "rows": len(df),
                     "fingerprint": None if storage is None else _study.fingerprint(df)},
            "custom_keras": keras_hypermodel is not None, "heartbeat": heartbeat,
            "started_epoch": time.time() - (time.monotonic() - started),
        }
        settings = SearchSettings(
            time_budget=float(time_budget), n_trials=n_trials, seed=seed, n_jobs=n_jobs,
            started=started, storage=storage, study_name=study_name, verbosity=verbosity,
            spec=spec, frameworks=list(spec["frameworks"]), **p.options,
        )
        outcome = Search(p.X, p.y, p.spec, p.recommendation, p.metric, p.resampling, settings, p.adapters).run()
        result = _result(p, outcome, started, float(time_budget))
        if run is not None:
            result.save(run, overwrite=True, plots=save_plots, data=p.df if save_plots else None)
    return result


def _result(p: _Prepared, outcome: Any, started: float, time_budget: float) -> AutoMLResult:
    """The user's result from the search's outcome (a constant baseline when no trial finished)."""
    messages = list(outcome.messages)
    if p.dropped_missing_target:
        messages.append(f"dropped {p.dropped_missing_target:,} rows with a missing target")
    board = leaderboard_frame(outcome.study, p.metric)
    if outcome.best_trial is None:
        model, fam, framework, params, score = _fallback(
            p.X, p.y, p.spec.is_classification, p.metric, p.resampling
        )
        messages.append("no trial finished within the budget: returned a constant (prior) baseline")
        refit = "constant baseline fitted on all rows"
    else:
        model, framework = outcome.best_model, outcome.best_config.framework
        fam, params = outcome.best_config.family, dict(outcome.best_config.params)
        score = float(outcome.best_trial.value)
        refit = outcome.refit
        if outcome.ensemble:
            weight_by_framework: dict[str, float] = {}
            for m in outcome.ensemble:
                weight_by_framework[m["framework"]] = weight_by_framework.get(m["framework"], 0.0) + m["weight"]
            framework = max(weight_by_framework, key=weight_by_framework.__getitem__)
            fam, params = "ensemble", {"members": outcome.ensemble}
            score = float(outcome.ensemble_score)
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
        validation=p.resampling.describe(),
        refit=refit,
        elapsed_seconds=time.monotonic() - started,
        time_budget=time_budget,
        messages=messages,
        ensemble=list(outcome.ensemble),
        interrupted=outcome.interrupted,
    )


def check_new_run_dir(run: Path) -> None:
    """A run directory for a new search must be new or empty (a finished or stopped run is resumed)."""
    if run.exists() and (not run.is_dir() or any(run.iterdir())):
        hint = "; continue it with automl.resume(run_dir)" if (run / "search").is_dir() else ""
        raise InputError(f"run_dir {str(run)!r} already exists and is not an empty folder{hint}; choose a new folder")


def _same_frameworks(rec: Recommendation, frameworks: Sequence[str]) -> None:
    """A resumed search or a worker searches exactly the study's frameworks (its search space)."""
    missing = [f for f in frameworks if f not in rec.frameworks]
    if missing:
        reasons = {e.framework: e.reason for e in rec.excluded}
        detail = "; ".join(f"{f}: {reasons.get(f, 'not available')}" for f in missing)
        raise InputError(
            f"the study searches {', '.join(frameworks)}, but {', '.join(missing)} cannot run here ({detail}); "
            "install it in this environment"
        )


#: A resumed run with less budget left than this needs a new time_budget.
MIN_RESUME_SECONDS = 5.0


def resume(
    run_dir: str | Path,
    df: pd.DataFrame | None = None,
    *,
    time_budget: float | None = None,
    n_trials: int | None = None,
    n_jobs: int | None = None,
    verbosity: int = 1,
) -> AutoMLResult:
    """Continue the search kept in ``run_dir`` (by ``fit(run_dir=...)`` or ``automl run --out``).

    Completed trials are kept and not run again; a trial cut short by Ctrl-C or by the process
    dying is run again. ``df``: the same data as the first run (checked by fingerprint); by
    default the file the run was started on. ``time_budget``: seconds for this session (default:
    what is left of the original budget). ``n_trials``: the study's new total of trials (default:
    the run's). The new result is written to ``run_dir``.
    """
    if verbosity not in (0, 1, 2):
        raise InputError(f"verbosity must be 0, 1 or 2, got {verbosity!r}")
    run = Path(run_dir)
    search = run / _study.SEARCH_DIR
    if not (search / _study.JOURNAL).is_file():
        raise InputError(
            f"{str(run)!r} holds no search to resume (no {_study.SEARCH_DIR}/{_study.JOURNAL}); "
            "start one with automl.fit(..., run_dir=...) or automl run --out DIR"
        )
    with log_output(verbosity), _study.RunLock(search):
        import optuna

        storage = _study.journal_storage(search / _study.JOURNAL)
        study = optuna.load_study(study_name=_study.STUDY_NAME, storage=storage)
        spec = _study.read_spec(study)
        if spec.get("custom_keras"):
            raise InputError("this run searched a custom keras_hypermodel, which is not saved with the run; "
                             "start a new run instead")
        frame, source = _spec_data(spec, df)
        used = float(study.user_attrs.get(_study.USED_ATTR, 0.0))
        if time_budget is None:
            time_budget = float(spec["time_budget"]) - used
            if time_budget < MIN_RESUME_SECONDS:
                raise InputError(
                    f"the run used its {spec['time_budget']:g}s budget ({used:.0f}s searched); "
                    "pass time_budget= (or --time-budget) to search longer"
                )
        with _study.quiet_optuna_warnings():
            dead = _study.recover_dead_trials(study, "interrupted: the process stopped during this trial")
        if dead:
            logger.info("trial(s) %s were running when the process stopped: queued again",
                        ", ".join(map(str, dead)))
        del storage, study  # released before the search opens the journal again (under the same lock)
    logger.info("resuming %s: %.0fs searched so far, %.0fs more", run, used, time_budget)
    with log_output(verbosity):
        return _fit(
            frame, spec["target"], time_budget=time_budget, n_trials=spec["n_trials"] if n_trials is None else n_trials,
            metric=spec["metric"],
            frameworks=spec["frameworks"], task=spec["task"], device=spec["device"], seed=spec["seed"],
            n_jobs=spec["n_jobs"] if n_jobs is None else n_jobs, storage=None, study_name=None, run_dir=run,
            source=source, keras_hypermodel=None, verbosity=verbosity, ensemble=spec["options"]["ensemble"],
            search_options={k: w for k, w in spec["options"].items() if k != "ensemble"}, resumed=spec,
            save_plots=(run / "plots").is_dir(),
        )


def _spec_data(spec: dict[str, Any], df: pd.DataFrame | None) -> tuple[pd.DataFrame, str | None]:
    """The study's data: ``df`` when given, else the recorded file; refused if it changed since."""
    recorded = spec["data"]
    source = recorded.get("path")
    if df is None:
        if not source:
            raise InputError(
                "the run was started on a DataFrame (no file recorded): pass the same frame, "
                "e.g. automl.resume(run_dir, df)"
            )
        from automl.io import read_table

        df = read_table(source)
    if _study.fingerprint(df) != recorded["fingerprint"]:
        where = "the DataFrame passed" if source is None else f"{source}"
        raise InputError(
            f"{where} differs from the data the run was started on ({recorded['rows']:,} rows then, "
            f"{len(df):,} now, or changed values); resume with the original data or start a new run"
        )
    return df, source


def work(
    storage: str, study_name: str, *, n_jobs: int = -1, verbosity: int = 1, data: str | None = None
) -> dict[str, Any]:
    """Join a running search as a worker: run its trials until it finishes (``automl worker``).

    ``storage`` is the study's database URL, ``study_name`` its name. The data is read from the
    file recorded in the study (``data`` overrides the path, e.g. where this machine mounts it).
    Returns ``{"trials": {state: count}, "prepare_seconds": s}``: the trials this worker ran, by
    state, and the seconds it took to read and profile the data before joining.
    """
    import optuna

    began = time.monotonic()
    with log_output(verbosity):
        store = _study.open_storage(storage)
        try:
            study = optuna.load_study(study_name=study_name, storage=store)
        except KeyError as e:
            raise InputError(
                f"no study {study_name!r} in {_study.hide_password(storage)}; start it with "
                f"automl run DATA --target Y --storage URL --study {study_name}"
            ) from e
        spec = _study.read_spec(study)
        if spec.get("custom_keras"):
            raise InputError("this study searches a custom keras_hypermodel, which workers cannot rebuild")
        if spec.get("heartbeat", _study.HEARTBEAT_SECONDS) != _study.HEARTBEAT_SECONDS:
            store = _study.open_storage(storage, heartbeat=spec["heartbeat"])  # the study's heartbeat
            study = optuna.load_study(study_name=study_name, storage=store)
        if data is not None:
            spec = {**spec, "data": {**spec["data"], "path": str(Path(data).resolve())}}
        elif not spec["data"].get("path"):
            raise InputError(
                "the study's data was passed as a DataFrame; start the run with a file path "
                "(automl.fit('data.csv', ...) or automl run data.csv) so that workers can read it, or pass data="
            )
        frame, _ = _spec_data(spec, None)
        options = dict(spec["options"])
        p = _prepare(
            frame, spec["target"], time_budget=spec["time_budget"], n_trials=spec["n_trials"],
            metric=spec["metric"], frameworks=spec["frameworks"], task=spec["task"], device=spec["device"],
            seed=spec["seed"], n_jobs=n_jobs, keras_hypermodel=None, ensemble=options.pop("ensemble"),
            search_options=options,
        )
        _same_frameworks(p.recommendation, spec["frameworks"])
        p.options.pop("cv_repeats")
        left = float(spec["started_epoch"]) + float(spec["time_budget"]) - time.time()
        started = time.monotonic() + left - float(spec["time_budget"])
        settings = SearchSettings(
            time_budget=float(spec["time_budget"]), n_trials=spec["n_trials"], seed=spec["seed"], n_jobs=n_jobs,
            started=started, storage=store, study_name=study_name, verbosity=verbosity, spec=spec,
            frameworks=list(spec["frameworks"]), worker=True, **{**p.options, "ensemble": False},
        )
        prepared = time.monotonic() - began
        logger.info(
            "worker joined study %r in %s after %.1fs reading and profiling %d rows (%.0fs left)",
            study_name, _study.hide_password(storage), prepared, len(frame), left,
        )
        outcome = Search(p.X, p.y, p.spec, p.recommendation, p.metric, p.resampling, settings, p.adapters).run()
        return {"trials": dict(outcome.worker_summary), "prepare_seconds": round(prepared, 2)}


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
    :class:`automl.io.RunDirectoryError` for a missing, damaged or tampered directory.
    """
    from automl.io import load_result

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
