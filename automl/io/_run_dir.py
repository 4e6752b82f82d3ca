"""Run directories: ``result.save(dir)`` writes one, ``automl.load(dir)`` reads it back.

Layout::

    run_dir/
      manifest.json      versions, input schema, task, metric, scores, leaderboard, recommendation,
                         hardware, the model's layout, and a SHA-256 for every other file
      leaderboard.csv    the leaderboard, for spreadsheets
      frameworks.csv     the framework report (best score, trials, seconds, tied with the best); its
                         verdict is in the manifest's ``framework_report``
      study.db           the Optuna study (SQLite), for ``optuna.load_study`` and its plots
      plots/             the PNG plots, when asked for
      search/            the live search state (study journal) that ``automl resume`` continues;
                         not checksummed: the saved result does not depend on it
      model/             the model (see ``automl.io._models`` for its files)

This module handles the files: writing them atomically, checksumming them, and reading them back
after checking every checksum, so a tampered or truncated directory is refused before anything is
deserialised; only model files that the manifest checksums are read. What the manifest says about
the result comes from ``AutoMLResult.to_manifest`` and goes back through ``AutoMLResult.from_manifest``,
so this module never imports the result.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from automl.errors import InputError
from automl.io._errors import RunDirectoryError
from automl.io._models import layout_paths, load_model, save_model

if TYPE_CHECKING:
    from automl.result import AutoMLResult

logger = logging.getLogger("automl")
T = TypeVar("T")

FORMAT = "automl-run"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Distributions whose versions go into the manifest (those installed).
VERSIONED = (
    "automl-recommender", "numpy", "pandas", "scikit-learn", "scipy", "optuna", "skops", "xgboost",
    "lightgbm", "catboost", "torch", "tensorflow", "keras", "keras-tuner", "autokeras",
)
#: The search's live state (``automl.search._study``): kept across saves, not part of the checksummed result.
SEARCH_DIR = "search"


# -- helpers -----------------------------------------------------------------------------------
def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, (pd.Timestamp, _dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def _dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=_json_default, allow_nan=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


# -- the study -----------------------------------------------------------------------------------
def _save_study(study: Any, path: Path) -> str:
    import optuna

    url = f"sqlite:///{path}"
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not "A new study created in RDB ..." on every save
    try:
        copy = optuna.create_study(storage=url, study_name=study.study_name, directions=study.directions)
    finally:
        optuna.logging.set_verbosity(previous)
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    finished = [t for t in study.trials if t.state.is_finished()]
    copy.add_trials(finished)
    return study.study_name


def load_study(run_dir: str | Path) -> Any:
    """The Optuna study of a saved run (for ``optuna.visualization`` and further analysis)."""
    import optuna

    run = Path(run_dir)
    manifest = read_manifest(run)
    name = manifest.get("study_name")
    if not name or not (run / "study.db").exists():
        raise RunDirectoryError(f"{run} holds no saved study")
    return optuna.load_study(study_name=name, storage=f"sqlite:///{run / 'study.db'}")


# -- writing -------------------------------------------------------------------------------------
def save_run(
    result: AutoMLResult, path: str | Path, *, overwrite: bool = False, plots: bool = False,
    data: pd.DataFrame | None = None,
) -> Path:
    """Write ``result`` to the run directory ``path`` atomically (a temporary directory, renamed).

    ``plots=True`` also renders the PNG plots into ``plots/``; with ``data`` (rows with the
    target) the permutation importance plot too.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        if not target.is_dir() or any(p.name != SEARCH_DIR for p in target.iterdir()):
            raise InputError(
                f"run directory {str(target)!r} already exists and is not empty; "
                "choose a new path or pass overwrite=True"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        _write_run(result, tmp, plots=plots, data=data)
        _move_into_place(tmp, target)
    except BaseException:
        if (tmp / SEARCH_DIR).is_dir() and target.is_dir() and not (target / SEARCH_DIR).exists():
            os.replace(tmp / SEARCH_DIR, target / SEARCH_DIR)  # never lose the search state
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("saved the run to %s", target)
    return target


def _write_run(result: AutoMLResult, tmp: Path, *, plots: bool, data: pd.DataFrame | None) -> None:
    """The model, study, leaderboard, plots, then the manifest with every file's checksum."""
    layout = save_model(result.best_model, tmp / "model")
    study_name = None
    if result.study is not None:
        study_name = _save_study(result.study, tmp / "study.db")
    result.leaderboard.to_csv(tmp / "leaderboard.csv", index=False)
    result.framework_report().to_frame().to_csv(tmp / "frameworks.csv", index=False)
    if plots:
        from automl.report._plots import save_plots

        save_plots(result, tmp / "plots", data=data)
    files = {p.relative_to(tmp).as_posix(): sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        **result.to_manifest(),
        "study_name": study_name,
        "model": layout,
        "files": files,
    }
    (tmp / MANIFEST).write_text(_dump_json(manifest))


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the written ``tmp`` onto ``target``, carrying over the live search state."""
    search = target / SEARCH_DIR
    if search.is_dir():  # the live search state (study journal) stays with the run, unchecked
        os.replace(search, tmp / SEARCH_DIR)
    if target.exists() and not any(target.iterdir()):
        os.replace(tmp, target)  # renaming onto an empty folder is atomic
    elif target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


# -- reading -------------------------------------------------------------------------------------
def read_manifest(run: Path) -> dict[str, Any]:
    """The manifest of the run directory ``run``, checked to be one this version can read."""
    if not run.is_dir():
        raise RunDirectoryError(f"run directory {str(run)!r} does not exist (or is not a directory)")
    path = run / MANIFEST
    if not path.is_file():
        raise RunDirectoryError(f"{str(run)!r} has no {MANIFEST}: it is not a run directory written by result.save")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirectoryError(f"{path} is not valid JSON ({e}); the run directory is damaged") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RunDirectoryError(f"{path} is not an automl run manifest")
    version = manifest.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise RunDirectoryError(f"{path} has format_version {version!r}, not an integer; the manifest was edited")
    if version > FORMAT_VERSION:
        raise RunDirectoryError(
            f"{run} was written by a newer automl (format {manifest['format_version']}, "
            f"this one reads {FORMAT_VERSION}); upgrade automl-recommender"
        )
    return manifest


def verify_files(run: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists exists and has its recorded SHA-256."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise RunDirectoryError(f"{run / MANIFEST} lists no files and checksums")
    for rel, digest in files.items():
        p = (run / rel).resolve()
        if run.resolve() not in p.parents:
            raise RunDirectoryError(f"the manifest names a file outside the run directory: {rel!r}")
        if not p.is_file():
            raise RunDirectoryError(f"{rel} is missing from {run}; the run directory is incomplete")
        if sha256(p) != digest:
            raise RunDirectoryError(
                f"{rel} in {run} does not match its checksum in the manifest: the file was changed "
                "or damaged after saving; refusing to load it"
            )


def verify_layout(manifest: dict[str, Any]) -> None:
    """The model files the manifest points the loader at are among the checksummed ones."""
    files = manifest["files"]
    for rel, folder in layout_paths(manifest["model"], "model"):
        listed = any(f.startswith(rel + "/") for f in files) if folder else rel in files
        if not listed:
            raise RunDirectoryError(
                f"the manifest's model layout names {rel!r}, which is not among its checksummed files; "
                "the manifest was edited: refusing to load it"
            )


def load_run(path: str | Path, build: Callable[..., T]) -> T:
    """Read a run directory written by :func:`save_run` (checksums first, then the model).

    ``build(manifest, model=..., study=..., run_dir=...)`` makes the object the run holds from the
    verified manifest and the loaded model and study: ``AutoMLResult.from_manifest`` for
    ``automl.load``. A manifest with missing or malformed fields, or a model file that cannot be
    read, raises :class:`RunDirectoryError` naming the problem.
    """
    run = Path(path)
    manifest = read_manifest(run)
    verify_files(run, manifest)
    try:
        verify_layout(manifest)
        model, study = _read_model(run, manifest)
        return build(manifest, model=model, study=study, run_dir=str(run))
    except RunDirectoryError:
        raise
    except ImportError as e:
        raise RunDirectoryError(f"loading this model needs a framework that is not installed here: {e}") from e
    except KeyError as e:
        raise RunDirectoryError(
            f"{run / MANIFEST} lacks the field {e} or it is malformed; the manifest was edited or damaged"
        ) from e
    except Exception as e:
        raise RunDirectoryError(
            f"could not load the run in {run} ({type(e).__name__}: {e}); the run directory is damaged "
            "or was written by an incompatible version"
        ) from e


def _read_model(run: Path, manifest: dict[str, Any]) -> tuple[Any, Any]:
    """The model and (when saved) the study of a run directory whose files were verified."""
    from search_spaces import TASKS

    if manifest.get("task") not in TASKS:
        raise RunDirectoryError(f"{run / MANIFEST} names task {manifest.get('task')!r}, not one of {', '.join(TASKS)}")
    mine, theirs = versions(), manifest.get("versions", {})
    changed = {k: (theirs[k], mine.get(k)) for k in theirs if k != "python" and theirs[k] != mine.get(k)}
    if changed:
        logger.warning(
            "the run was saved with other package versions: %s",
            ", ".join(f"{k} {a} (now {b or 'not installed'})" for k, (a, b) in changed.items()),
        )
    model = load_model(run / "model", manifest["model"])
    study = None
    if manifest.get("study_name") and (run / "study.db").exists():
        study = load_study(run)
    return model, study
