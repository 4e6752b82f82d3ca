"""The Python entry points: fit, recommend, profile, hardware."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from automl import _validation as v
from automl._progress import log_output
from automl._run import fit_frame, prepare, same_frameworks, spec_data
from automl.errors import InputError
from automl.result import AutoMLResult
from automl.search import _study
from automl.search._resampling import fits_per_trial
from automl.search._settings import SearchSettings
from automl.search._spec import read_spec
from automl.search._time_plan import sampled_rows
from recommender import (
    DatasetProfile,
    HardwareProfile,
    Recommendation,
    detect_hardware,
    profile_dataset,
    recommend_frameworks,
)
from search_spaces import Task

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
        fits_per_trial=fits_per_trial(prof.n_rows), sampled_rows=sampled_rows(prof.n_rows),
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
    , ``subsample`` (bool: on large data, trials train on a sample of the rows; the refit uses all),
    ``bagging`` (default True: up to 10,000 rows the final model averages the cross-validation's fold
    models instead of a refit on all rows, and on 10,000 to 200,000 rows each trial is a k-fold bag
    whose fold models are kept, when the time plan says enough trials fit; "medium": only the latter,
    small data refits; False: neither)
    , ``cv_repeats`` (1-5, default 3: how often 5-fold cross-validation is drawn on up to 1,000 rows)
    , ``selection`` ("bootstrap", default: on up to 1,000 rows the ensemble's weights are greedy
    selection's averaged over bootstrap samples of the out-of-fold rows; "greedy": one pass)
    and ``selection_rows`` ("averaged", default: where the folds are drawn several times and their
    models kept, selection scores each row's out-of-fold predictions averaged over the repeats, as
    the final model averages its fold models; "pooled": the repeats' predictions side by side).
    """
    if verbosity not in (0, 1, 2):
        raise InputError(f"verbosity must be 0, 1 or 2, got {verbosity!r}")
    with log_output(verbosity):
        source = None
        if isinstance(df, (str, Path)):
            from automl.io import read_table

            source, df = str(Path(df).resolve()), read_table(str(df))
        return fit_frame(
            df, target, time_budget=time_budget, n_trials=n_trials, metric=metric, frameworks=frameworks,
            task=task, device=device, seed=seed, n_jobs=n_jobs, storage=storage, study_name=study_name,
            run_dir=run_dir, source=source, keras_hypermodel=keras_hypermodel, verbosity=verbosity,
            ensemble=ensemble, search_options=search_options,
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
        spec = read_spec(study)
        if spec.custom_keras:
            raise InputError("this run searched a custom keras_hypermodel, which is not saved with the run; "
                             "start a new run instead")
        frame, source = spec_data(spec, df)
        used = float(study.user_attrs.get(_study.USED_ATTR, 0.0))
        if time_budget is None:
            time_budget = spec.time_budget - used
            if time_budget < MIN_RESUME_SECONDS:
                raise InputError(
                    f"the run used its {spec.time_budget:g}s budget ({used:.0f}s searched); "
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
        return fit_frame(
            frame, spec.target, time_budget=time_budget, n_trials=spec.n_trials if n_trials is None else n_trials,
            metric=spec.metric, frameworks=spec.frameworks, task=spec.task, device=spec.device,  # type: ignore[arg-type]
            seed=spec.seed, n_jobs=spec.n_jobs if n_jobs is None else n_jobs, storage=None, study_name=None,
            run_dir=run, source=source, keras_hypermodel=None, verbosity=verbosity, ensemble=spec.ensemble,
            search_options=spec.search_options, resumed=spec, save_plots=(run / "plots").is_dir(),
        )


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
        spec = read_spec(study)
        if spec.custom_keras:
            raise InputError("this study searches a custom keras_hypermodel, which workers cannot rebuild")
        if spec.heartbeat != _study.HEARTBEAT_SECONDS:
            store = _study.open_storage(storage, heartbeat=spec.heartbeat)  # the study's heartbeat
            study = optuna.load_study(study_name=study_name, storage=store)
        if data is not None:
            spec = spec.with_data_path(str(Path(data).resolve()))
        elif not spec.data.path:
            raise InputError(
                "the study's data was passed as a DataFrame; start the run with a file path "
                "(automl.fit('data.csv', ...) or automl run data.csv) so that workers can read it, or pass data="
            )
        frame, _ = spec_data(spec, None)
        p = prepare(
            frame, spec.target, time_budget=spec.time_budget, n_trials=spec.n_trials, metric=spec.metric,
            frameworks=spec.frameworks, task=spec.task, device=spec.device, seed=spec.seed,  # type: ignore[arg-type]
            n_jobs=n_jobs, keras_hypermodel=None, ensemble=spec.ensemble, search_options=spec.search_options,
        )
        same_frameworks(p.recommendation, spec.frameworks)
        p.options.pop("cv_repeats")
        left = spec.started_epoch + spec.time_budget - time.time()
        settings = SearchSettings(
            time_budget=spec.time_budget, n_trials=spec.n_trials, seed=spec.seed, n_jobs=n_jobs,
            started=time.monotonic() + left - spec.time_budget, storage=store, study_name=study_name,
            verbosity=verbosity, spec=spec, frameworks=list(spec.frameworks), worker=True,
            **{**p.options, "ensemble": False},
        )
        prepared = time.monotonic() - began
        logger.info(
            "worker joined study %r in %s after %.1fs reading and profiling %d rows (%.0fs left)",
            study_name, _study.hide_password(storage), prepared, len(frame), left,
        )
        outcome = p.search(settings)
        return {"trials": dict(outcome.worker_summary), "prepare_seconds": round(prepared, 2)}


def load(path: str) -> AutoMLResult:
    """Load a run directory written by ``result.save(path)`` (or ``automl run --out``).

    Checks the manifest's checksums and formats before reading anything; raises
    :class:`automl.io.RunDirectoryError` for a missing, damaged or tampered directory.
    """
    from automl.io import load_run

    return load_run(path, AutoMLResult.from_manifest)
