"""Which graph writer converts a fitted estimator: the framework's adapter chooses.

Each framework adapter names one converter of :data:`CONVERTERS` in its class attribute
``FrameworkAdapter.onnx_converter`` (``None``: its models cannot be exported). The framework of an
estimator is the one the caller names (``AutoMLResult.export_onnx`` passes the result's), or else
the one the estimator's class declares (``framework``, on the library's own estimators), or else
the one whose package the estimator's class comes from (a scikit-learn model is scikit-learn's).
A converter looks at the estimator, refuses what it cannot convert (with the reason and the fix)
and returns the function that writes its graph, before any graph is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automl.errors import InputError
from automl.export.onnx._errors import OnnxExportError
from automl.export.onnx._estimators import (
    catboost_graph,
    keras_graph,
    lightgbm_graph,
    skl2onnx_graph,
    torch_graph,
    xgboost_graph,
)
from automl.export.onnx._hgb import hgb_graph

#: ``(estimator, n_features, width) -> onnx.ModelProto`` with input ``features`` and output ``scores``
#: (``width`` classes of probabilities, or values when ``width`` is None).
GraphWriter = Callable[[Any, int, int | None], Any]


def _scikit_learn(est: Any) -> GraphWriter:
    """skl2onnx, except histogram gradient boosting (written here) and distance-weighted k-NN (refused)."""
    from sklearn.base import BaseEstimator
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    from search_spaces import _staged

    if isinstance(est, _staged._StagedHGB):
        return lambda e, n, w: hgb_graph(e.estimator_, n, w)
    if isinstance(est, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        return hgb_graph
    if isinstance(est, _staged._StagedForest):
        return lambda e, n, w: skl2onnx_graph(e.estimator_, n, w)
    if isinstance(est, (KNeighborsClassifier, KNeighborsRegressor)) and est.weights != "uniform":
        raise OnnxExportError(
            f"k-NN with weights={est.weights!r} cannot be exported: skl2onnx 1.20's converter gets distance "
            "weights wrong (it weighs every neighbour alike). Refit k-NN with weights='uniform', or export "
            "another model"
        )
    if not isinstance(est, BaseEstimator):
        raise _no_converter(est)
    return skl2onnx_graph


def _catboost(est: Any) -> GraphWriter:
    if est.n_categorical:
        raise OnnxExportError(
            "CatBoost models with native categorical features cannot be exported to ONNX: CatBoost's "
            "ONNX export does not support categorical features. Refit CatBoost with one-hot categories "
            "(categorical='onehot'), or export a model of another framework"
        )
    return catboost_graph


#: The converters an adapter can name in ``FrameworkAdapter.onnx_converter``: each takes the fitted
#: estimator and returns its graph writer, or raises :class:`OnnxExportError` saying why not.
CONVERTERS: dict[str, Callable[[Any], GraphWriter]] = {
    "sklearn": _scikit_learn,
    "xgboost": lambda est: xgboost_graph,
    "lightgbm": lambda est: lightgbm_graph,
    "catboost": _catboost,
    "torch": lambda est: torch_graph,
    "keras": lambda est: keras_graph,
}


def converter_for(est: Any, framework: str | None) -> GraphWriter:
    """The graph writer for ``est`` of ``framework`` (None: found from ``est``), as the adapter chooses."""
    from search_spaces import get_adapter

    name = framework_of(est) if framework is None else framework
    try:
        adapter = get_adapter(name)
    except ValueError as e:  # an unknown framework name
        raise InputError(f"cannot export a model of framework {name!r}: {e}") from e
    key = adapter.onnx_converter
    if key is None:
        exportable = _exportable()
        raise OnnxExportError(
            f"{adapter.display_name} models cannot be exported to ONNX: framework {adapter.name!r} declares "
            f"no ONNX converter (FrameworkAdapter.onnx_converter is None), and ONNX export supports "
            f"{', '.join(exportable)}. Export a model of another framework instead, e.g. refit with "
            f"automl.fit(..., frameworks={exportable!r}), or save the run with result.save() instead"
        )
    if key not in CONVERTERS:
        raise OnnxExportError(
            f"framework {adapter.name!r} declares the ONNX converter {key!r} "
            f"({type(adapter).__name__}.onnx_converter), which automl.export.onnx does not have; it has "
            f"{sorted(CONVERTERS)}. Set onnx_converter to one of those, or to None"
        )
    return CONVERTERS[key](est)


def framework_of(est: Any) -> str:
    """The framework whose adapter built ``est``: the one its class declares, or the one whose
    package it comes from."""
    from search_spaces import all_adapters

    declared = getattr(type(est), "framework", None)
    if isinstance(declared, str):
        return declared
    package = type(est).__module__.partition(".")[0]
    found = next((a.name for a in all_adapters() if a.import_name == package), None)
    if found is None:
        raise _no_converter(est)
    return found


def _exportable() -> list[str]:
    """The registered frameworks whose adapters name a converter the export has."""
    from search_spaces import all_adapters

    return sorted(a.name for a in all_adapters() if a.onnx_converter in CONVERTERS)


def _no_converter(est: Any) -> OnnxExportError:
    from search_spaces import get_adapter

    covered = [get_adapter(name).display_name for name in _exportable()]
    listed = ", ".join(covered[:-1]) + f" and {covered[-1]}" if len(covered) > 1 else "".join(covered)
    return OnnxExportError(
        f"no ONNX converter for {type(est).__module__}.{type(est).__name__}; the export covers the library's "
        f"{listed} models"
    )
