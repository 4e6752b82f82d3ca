"""Run directories: ``result.save(dir)`` writes one, ``automl.load(dir)`` reads it back.

Layout::

    run_dir/
      manifest.json      versions, input schema, task, metric, scores, leaderboard, recommendation,
                         hardware, the model's layout, and a SHA-256 for every other file
      leaderboard.csv    the leaderboard, for spreadsheets
      study.db           the Optuna study (SQLite), for ``optuna.load_study`` and its plots
      search/            the live search state (study journal) that ``automl resume`` continues;
                         not checksummed: the saved result does not depend on it
      model/             the model; ``member_<i>/`` per member when an ensemble won
        preprocess.skops   the fitted column transformer (skops format)
        estimator/         XGBoost: model.ubj + model.json; LightGBM: model.txt + model.json;
                           CatBoost: model.cbm + model.json; PyTorch: model.pt (state dict) + model.json;
                           Keras/AutoKeras: model.keras + model.json
        estimator.skops    scikit-learn estimators (skops format)

Nothing in a run directory executes code when loaded: skops files load only the types on an
allow-list (this library's, scikit-learn's, NumPy's and SciPy's), PyTorch weights load with
``weights_only=True``, Keras models in safe mode, XGBoost, LightGBM and CatBoost from their own
model formats. Loading checks
every file against the manifest's checksums first, so a tampered or truncated directory is refused
before anything is deserialised, and reads only model files that the manifest checksums.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import logging
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl.errors import InputError

if TYPE_CHECKING:
    from automl.result import AutoMLResult

logger = logging.getLogger("automl")

FORMAT = "automl-run"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Distributions whose versions go into the manifest (those installed).
VERSIONED = (
    "automl-recommender", "numpy", "pandas", "scikit-learn", "scipy", "optuna", "skops", "xgboost",
    "lightgbm", "catboost", "torch", "tensorflow", "keras", "keras-tuner", "autokeras",
)
#: Type and function names a skops file may contain. Everything else is refused on load.
TRUSTED_PREFIXES = ("search_spaces.", "automl.", "sklearn.", "numpy.", "scipy.sparse.", "builtins.")
TRUSTED_NAMES = ("functools.partial",)
#: Modules whose classes may provide ``load_native`` for a saved estimator.
NATIVE_MODULES = ("search_spaces.",)
#: The search's live state (``automl.search._study``): kept across saves, not part of the checksummed result.
SEARCH_DIR = "search"


class RunDirectoryError(InputError):
    """A run directory that cannot be loaded: missing, tampered, incompatible or from a newer format."""


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


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _import_class(path: str) -> Any:
    if not path.startswith(NATIVE_MODULES):
        raise RunDirectoryError(f"the manifest names estimator class {path!r}, which is not one of this library's")
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name, None)
    if cls is None or not hasattr(cls, "load_native"):
        raise RunDirectoryError(f"estimator class {path!r} named in the manifest cannot load a saved model")
    return cls


# -- the model -----------------------------------------------------------------------------------
def _skops_dump(obj: Any, path: Path) -> None:
    import skops.io as sio

    sio.dump(obj, path)


def _skops_load(path: Path) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    refused = [t for t in untrusted if not (t.startswith(TRUSTED_PREFIXES) or t in TRUSTED_NAMES)]
    if refused:
        raise RunDirectoryError(
            f"{path.name} contains types this library does not load ({', '.join(refused)}); "
            "it was not written by automl, or was altered"
        )
    return sio.load(path, trusted=untrusted)


def _save_pipeline(model: Any, directory: Path) -> dict[str, Any]:
    from sklearn.pipeline import Pipeline

    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(model, Pipeline) and "preprocess" in model.named_steps:
        pre, est = model.named_steps["preprocess"], model.steps[-1][1]
        _skops_dump(pre, directory / "preprocess.skops")
        layout: dict[str, Any] = {"kind": "pipeline", "preprocess": "preprocess.skops"}
    else:
        est, layout = model, {"kind": "estimator"}
    if hasattr(est, "save_native"):
        est.save_native(directory / "estimator")
        layout["estimator"] = {"format": "native", "class": _qualname(est), "path": "estimator"}
    else:
        _skops_dump(est, directory / "estimator.skops")
        layout["estimator"] = {"format": "skops", "class": _qualname(est), "path": "estimator.skops"}
    return layout


def _load_pipeline(directory: Path, layout: dict[str, Any]) -> Any:
    from sklearn.pipeline import Pipeline

    spec = layout["estimator"]
    if spec["format"] == "native":
        est = _import_class(spec["class"]).load_native(directory / spec["path"])
    elif spec["format"] == "skops":
        est = _skops_load(directory / spec["path"])
    else:
        raise RunDirectoryError(f"unknown estimator format {spec['format']!r} in the manifest")
    if layout["kind"] == "estimator":
        return est
    return Pipeline([("preprocess", _skops_load(directory / layout["preprocess"])), ("model", est)])


def save_model(model: Any, directory: Path) -> dict[str, Any]:
    """Write a fitted model (pipeline, bare estimator or weighted ensemble); return its layout."""
    from automl.search._ensemble import WeightedEnsemble

    if isinstance(model, WeightedEnsemble):
        members = []
        for i, member in enumerate(model.members or []):
            sub = f"member_{i}"
            members.append({"path": sub, **_save_pipeline(member, directory / sub)})
        return {"kind": "ensemble", "weights": [float(w) for w in model.weights or []], "members": members}
    return _save_pipeline(model, directory)


def load_model(directory: Path, layout: dict[str, Any]) -> Any:
    from automl.search._ensemble import WeightedEnsemble

    if layout["kind"] == "ensemble":
        members = [_load_pipeline(directory / m["path"], m) for m in layout["members"]]
        ens = WeightedEnsemble(members=members, weights=list(layout["weights"]))
        ens.fitted_ = True
        return ens
    return _load_pipeline(directory, layout)


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


# -- result <-> directory ---------------------------------------------------------------------------
def save_result(
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
        layout = save_model(result.best_model, tmp / "model")
        study_name = None
        if result.study is not None:
            study_name = _save_study(result.study, tmp / "study.db")
        board = result.leaderboard
        board.to_csv(tmp / "leaderboard.csv", index=False)
        if plots:
            from automl.report._plots import save_plots

            save_plots(result, tmp / "plots", data=data)
        files = {
            p.relative_to(tmp).as_posix(): sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": versions(),
            "task": result.task,
            "target": result.profile.target,
            "metric": {"name": result.metric.name, "display_name": result.metric.display_name},
            "schema": result.schema(),
            "best": {
                "framework": result.best_framework,
                "model_family": result.best_model_family,
                "params": result.best_params,
                "score": result.best_score,
                "metric_value": result.best_metric_value,
            },
            "ensemble": result.ensemble,
            "classes": None if result.classes_ is None else list(result.classes_),
            "validation": result.validation,
            "refit": result.refit,
            "elapsed_seconds": result.elapsed_seconds,
            "time_budget": result.time_budget,
            "messages": result.messages,
            "leaderboard": json.loads(board.to_json(orient="records", default_handler=str)),
            "recommendation": result.recommendation.to_dict(),
            "profile": result.profile.to_dict(),
            "hardware": result.hardware.to_dict(),
            "study_name": study_name,
            "model": layout,
            "files": files,
        }
        (tmp / MANIFEST).write_text(_dump_json(manifest))
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
    except BaseException:
        if (tmp / SEARCH_DIR).is_dir() and target.is_dir() and not (target / SEARCH_DIR).exists():
            os.replace(tmp / SEARCH_DIR, target / SEARCH_DIR)  # never lose the search state
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("saved the run to %s", target)
    return target


def read_manifest(run: Path) -> dict[str, Any]:
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


def _layout_paths(layout: dict[str, Any], base: str) -> list[tuple[str, bool]]:
    """The (path, is_folder) pairs a model layout tells the loader to read, relative to the run."""
    if layout["kind"] == "ensemble":
        return [p for m in layout["members"] for p in _layout_paths(m, f"{base}/{m['path']}")]
    spec = layout["estimator"]
    out = [(f"{base}/{spec['path']}", spec["format"] == "native")]
    if layout["kind"] == "pipeline":
        out.append((f"{base}/{layout['preprocess']}", False))
    return out


def verify_layout(manifest: dict[str, Any]) -> None:
    """The model files the manifest points the loader at are among the checksummed ones."""
    files = manifest["files"]
    for rel, folder in _layout_paths(manifest["model"], "model"):
        listed = any(f.startswith(rel + "/") for f in files) if folder else rel in files
        if not listed:
            raise RunDirectoryError(
                f"the manifest's model layout names {rel!r}, which is not among its checksummed files; "
                "the manifest was edited: refusing to load it"
            )


def load_result(path: str | Path) -> AutoMLResult:
    """Read a run directory written by :func:`save_result` (checksums first, then the model).

    A manifest with missing or malformed fields, or a model file that cannot be read, raises
    :class:`RunDirectoryError` naming the problem.
    """
    run = Path(path)
    manifest = read_manifest(run)
    verify_files(run, manifest)
    try:
        verify_layout(manifest)
        return _load_result(run, manifest)
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


def _load_result(run: Path, manifest: dict[str, Any]) -> AutoMLResult:
    """The result held by a run directory whose files were verified."""
    from automl.metrics import resolve_metric
    from automl.result import AutoMLResult
    from recommender import DatasetProfile, HardwareProfile, Recommendation
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
    schema = manifest["schema"]
    board = pd.DataFrame(manifest["leaderboard"])
    best = manifest["best"]
    return AutoMLResult(
        best_framework=best["framework"],
        best_model_family=best["model_family"],
        best_model=model,
        best_params=best["params"],
        best_score=float(best["score"]),
        metric=resolve_metric(manifest["metric"]["name"], manifest["task"]),
        task=manifest["task"],
        leaderboard=board,
        recommendation=Recommendation.from_dict(manifest["recommendation"]),
        profile=DatasetProfile.from_dict(manifest["profile"]),
        hardware=HardwareProfile.from_dict(manifest["hardware"]),
        study=study,
        feature_columns=[c["name"] for c in schema["columns"]],
        feature_dtypes={c["name"]: c["dtype"] for c in schema["columns"]},
        feature_kinds={c["name"]: c["kind"] for c in schema["columns"]},
        feature_categories={c["name"]: c["categories"] for c in schema["columns"] if c.get("categories") is not None},
        validation=manifest["validation"],
        refit=manifest["refit"],
        elapsed_seconds=float(manifest["elapsed_seconds"]),
        time_budget=float(manifest["time_budget"]),
        messages=list(manifest.get("messages", [])),
        ensemble=list(manifest.get("ensemble", [])),
        run_dir=str(run),
    )
