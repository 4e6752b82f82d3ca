"""A fitted model on disk: a folder per model, each estimator in a format that runs no code on load.

Layout of a model folder (``model/`` in a run directory; ``member_<i>/`` per member when an
ensemble won)::

    preprocess.skops   the fitted column transformer (skops format)
    estimator/         XGBoost: model.ubj + model.json; LightGBM: model.txt + model.json;
                       CatBoost: model.cbm + model.json; PyTorch: model.pt (state dict) + model.json;
                       Keras/AutoKeras: model.keras + model.json
    estimator.skops    scikit-learn estimators (skops format)

skops files load only the types on an allow-list (this library's, scikit-learn's, NumPy's and
SciPy's); native formats load through the ``load_native`` of a class from this library's adapters.
:func:`save_model` returns the layout (a JSON-ready dict) that :func:`load_model` reads back.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from automl.io._errors import RunDirectoryError

#: Type and function names a skops file may contain. Everything else is refused on load.
TRUSTED_PREFIXES = ("search_spaces.", "automl.", "sklearn.", "numpy.", "scipy.sparse.", "builtins.")
TRUSTED_NAMES = ("functools.partial",)
#: Modules whose classes may provide ``load_native`` for a saved estimator.
NATIVE_MODULES = ("search_spaces.",)


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
    """The model :func:`save_model` wrote into ``directory`` with this ``layout``."""
    from automl.search._ensemble import WeightedEnsemble

    if layout["kind"] == "ensemble":
        members = [_load_pipeline(directory / m["path"], m) for m in layout["members"]]
        ens = WeightedEnsemble(members=members, weights=list(layout["weights"]))
        ens.fitted_ = True
        return ens
    return _load_pipeline(directory, layout)


def layout_paths(layout: dict[str, Any], base: str) -> list[tuple[str, bool]]:
    """The (path, is_folder) pairs a model layout tells the loader to read, each under ``base``."""
    if layout["kind"] == "ensemble":
        return [p for m in layout["members"] for p in layout_paths(m, f"{base}/{m['path']}")]
    spec = layout["estimator"]
    out = [(f"{base}/{spec['path']}", spec["format"] == "native")]
    if layout["kind"] == "pipeline":
        out.append((f"{base}/{layout['preprocess']}", False))
    return out
