"""``export_onnx`` and ``onnx_feed``: arguments checked, the parts built and joined, the graph
verified and written (through a temporary file and a rename, so a failed export leaves no file)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import InputError
from automl.export.onnx._converters import GraphWriter, converter_for
from automl.export.onnx._errors import OnnxExportError
from automl.export.onnx._graph import PREFIX, merge, require, union
from automl.export.onnx._heads import OUTPUTS, head, jsonable
from automl.export.onnx._preprocessing import blocks, input_kinds, preprocess_graph

TASKS = ("binary", "multiclass", "regression")


# -- public API ------------------------------------------------------------------------------------


def export_onnx(
    model: Any,
    path: str | os.PathLike[str],
    *,
    feature_columns: Sequence[str],
    feature_dtypes: dict[str, str],
    task: str,
    classes: Sequence[Any] | np.ndarray | None = None,
    verify: Any = None,
    atol: float = 1e-4,
    framework: str | Sequence[str] | None = None,
) -> Path:
    """Write ``model`` (a fitted pipeline or ensemble of them) as one ONNX file and return its path.

    ``feature_columns``/``feature_dtypes``/``task``/``classes`` are the fitted result's
    (``AutoMLResult.feature_columns`` etc.). With ``verify`` (a DataFrame of feature rows) the graph
    is run with onnxruntime before writing and must match the model's own ``predict_proba`` (or
    ``predict``) within ``atol``; otherwise nothing is written and :class:`OnnxExportError` says by
    how much it differs. Raises :class:`OnnxExportError` for what cannot be exported (datetime or
    text columns, frameworks whose adapter declares no converter such as AutoKeras, estimators
    without one) and ``ImportError`` naming the package when a converter is not installed; in every
    failure no file is left behind.

    ``framework`` names the framework that built the model, or one framework per ensemble member
    (``AutoMLResult.export_onnx`` passes the result's); its adapter's ``onnx_converter`` chooses the
    converter. Left out, it is found from each estimator (see :mod:`automl.export.onnx._converters`).
    """
    columns = [str(c) for c in feature_columns]
    classification = _check_arguments(model, columns, feature_dtypes, task)
    members, weights, writers = _members(model, framework)
    labels = _class_labels(model, classes) if classification else None
    require("onnx")
    onnx_model = _build(members, writers, weights, columns, feature_dtypes, labels, task)
    if verify is not None:
        _verify(onnx_model, model, verify, classification, atol)
    return _write(onnx_model, Path(path))


def onnx_feed(frame: Any, model: Any) -> dict[str, np.ndarray]:
    """The inputs an exported graph takes, from a DataFrame holding its feature columns.

    ``model`` is the exported file's path, its ``onnx.ModelProto`` or an onnxruntime session.
    String inputs get the values as the library's preprocessing sees them (``str(value)``, missing as
    ``"__missing__"``); float inputs get numbers (booleans as 0/1, missing as NaN).
    """
    import pandas as pd

    from search_spaces._preprocess import _as_strings

    kinds = _graph_input_kinds(model)
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"onnx_feed needs a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in kinds if c not in frame.columns]
    if missing:
        raise InputError(f"columns {missing!r} are inputs of the ONNX graph but are missing from the frame")
    feed: dict[str, np.ndarray] = {}
    for col, kind in kinds.items():
        if kind == "string":
            feed[col] = np.asarray(_as_strings(frame[[col]]), dtype=object).reshape(-1, 1)
        else:
            values = pd.to_numeric(frame[col], errors="coerce")
            numbers = pd.array(values, dtype="Float64").to_numpy(dtype=np.float32, na_value=np.nan)
            feed[col] = numbers.reshape(-1, 1)
    return feed


# -- validation ------------------------------------------------------------------------------------


def _check_arguments(model: Any, columns: list[str], dtypes: dict[str, str], task: str) -> bool:
    if task not in TASKS:
        raise InputError(f"task must be one of {TASKS}, got {task!r}")
    if not columns:
        raise InputError("feature_columns is empty; pass the columns the model was fitted on")
    if len(set(columns)) != len(columns):
        raise InputError(f"feature_columns has duplicates: {sorted({c for c in columns if columns.count(c) > 1})}")
    no_dtype = [c for c in columns if c not in {str(k) for k in dtypes}]
    if no_dtype:
        raise InputError(f"feature_dtypes has no entry for {no_dtype!r}; pass the result's feature_dtypes")
    classification = task != "regression"
    outputs = OUTPUTS["classification" if classification else "regression"]
    clashes = [c for c in columns if c.startswith(PREFIX) or c in outputs]
    if clashes:
        raise InputError(
            f"feature columns {clashes!r} clash with the ONNX graph's output names {outputs} (or its internal "
            f"names, which start with {PREFIX!r}); rename those columns and refit"
        )
    if classification and not hasattr(model, "predict_proba"):
        raise InputError(f"task={task!r} needs a classifier with predict_proba, got {type(model).__name__}")
    if not classification and getattr(model, "classes_", None) is not None:
        raise InputError("task='regression' but the model is a classifier; pass the result's task")
    return classification


def _class_labels(model: Any, classes: Sequence[Any] | np.ndarray | None) -> np.ndarray:
    fitted = getattr(model, "classes_", None)
    if classes is None:
        if fitted is None:
            raise InputError("classes is required for classification when the model has no classes_")
        return np.asarray(fitted)
    labels = np.asarray(list(classes))
    if fitted is not None and [str(c) for c in fitted] != [str(c) for c in labels]:
        raise InputError(
            f"classes {labels.tolist()!r} differ from the model's classes_ {np.asarray(fitted).tolist()!r}; "
            "pass the result's classes_ (or leave classes out)"
        )
    return labels


def _members(model: Any, framework: str | Sequence[str] | None) -> tuple[list[Any], list[float], list[GraphWriter]]:
    """The pipelines to convert, their weights and their estimators' graph writers: one pipeline
    with weight 1, or an ensemble's members. Raises before any work for what cannot be exported."""
    from sklearn.pipeline import Pipeline

    if type(model).__name__ == "WeightedEnsemble" and hasattr(model, "members"):
        members, weights = list(model.members or []), [float(w) for w in model.weights or []]
        if not members or len(members) != len(weights):
            raise InputError("the ensemble has no members, or not one weight per member; is it fitted?")
    else:
        members, weights = [model], [1.0]
    frameworks = _frameworks(framework, len(members))
    writers = []
    for m, name in zip(members, frameworks, strict=True):
        if not isinstance(m, Pipeline) or len(m.steps) != 2:
            raise OnnxExportError(
                f"ONNX export takes the library's fitted pipelines (preprocess + model), got "
                f"{type(m).__name__}; pass result.best_model"
            )
        writers.append(converter_for(m.steps[-1][1], name))
        blocks(m.steps[0][1])
    return members, weights, writers


def _frameworks(framework: str | Sequence[str] | None, n: int) -> list[str | None]:
    """One framework name (None: found from the estimator) per member."""
    if framework is None:
        return [None] * n
    names = [framework] if isinstance(framework, str) else [str(f) for f in framework]
    if len(names) != n:
        raise InputError(
            f"framework names {len(names)} framework(s) for a model of {n} member(s); pass one per ensemble "
            "member (the 'framework' of each entry of result.ensemble), or leave it out"
        )
    return names


# -- assembly --------------------------------------------------------------------------------------


def _build(members: list[Any], writers: list[GraphWriter], weights: list[float], columns: list[str],
           dtypes: dict[str, str], labels: np.ndarray | None, task: str) -> Any:
    """The whole graph: each member's preprocessing and estimator side by side, then the head."""
    from onnx import checker, helper

    kinds = input_kinds(members, columns, dtypes)
    width = len(labels) if labels is not None else None
    parts = [_member_graph(i, pipeline, writer, kinds, width) for i, (pipeline, writer)
             in enumerate(zip(members, writers, strict=True))]
    body = union(parts) if len(parts) > 1 else parts[0]
    outputs, io_map = head(len(members), weights, width, labels)
    model = merge(body, outputs, io_map)
    model.producer_name = "automl-recommender"
    model.doc_string = "automl-recommender model: one input per feature column; see automl.export.onnx"
    meta = {
        "automl.task": task,
        "automl.feature_columns": json.dumps(columns),
        "automl.inputs": json.dumps(kinds),
        "automl.classes": json.dumps(None if labels is None else [jsonable(c) for c in labels]),
        "automl.outputs": json.dumps(list(OUTPUTS["regression" if labels is None else "classification"])),
    }
    helper.set_model_props(model, meta)
    checker.check_model(model)
    return model


def _member_graph(i: int, pipeline: Any, writer: GraphWriter, kinds: dict[str, str], width: int | None) -> Any:
    """Member ``i``: its preprocessing joined to its estimator's scores ``{PREFIX}m{i}/est/scores``."""
    from onnx import compose

    prefix = f"{PREFIX}m{i}/"
    pre, n_features = preprocess_graph(pipeline.steps[0][1], kinds, prefix + "pre/")
    est = pipeline.steps[-1][1]
    if width is not None and len(est.classes_) != width:
        raise InputError(f"member {i} predicts {len(est.classes_)} classes, not {width}")
    if getattr(est, "n_features_in_", n_features) != n_features:
        raise OnnxExportError(
            f"the preprocessing outputs {n_features} columns but the estimator takes {est.n_features_in_}"
        )
    scores = compose.add_prefix(writer(est, n_features, width), prefix + "est/")
    return merge(pre, scores, [(f"{prefix}pre/features", f"{prefix}est/features")])


def _graph_input_kinds(model: Any) -> dict[str, str]:
    if hasattr(model, "get_inputs"):  # an onnxruntime session
        return {i.name: "string" if "string" in i.type else "float" for i in model.get_inputs()}
    onnx = require("onnx")
    proto = model if hasattr(model, "graph") else onnx.load(str(model), load_external_data=False)
    inits = {t.name for t in proto.graph.initializer}
    return {
        i.name: "string" if i.type.tensor_type.elem_type == onnx.TensorProto.STRING else "float"
        for i in proto.graph.input
        if i.name not in inits
    }


def _verify(onnx_model: Any, model: Any, frame: Any, classification: bool, atol: float) -> None:
    ort = require("onnxruntime")
    columns = json.loads(next(p.value for p in onnx_model.metadata_props if p.key == "automl.feature_columns"))
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = dict(zip([o.name for o in session.get_outputs()],
                       session.run(None, onnx_feed(frame, session)), strict=True))
    X = frame[columns]
    native = model.predict_proba(X) if classification else model.predict(X)
    got = outputs["probabilities" if classification else "prediction"]
    diff = float(np.max(np.abs(np.asarray(native, dtype=np.float64) - got))) if len(got) else 0.0
    if not np.isfinite(diff) or diff > atol:
        raise OnnxExportError(
            f"the ONNX graph differs from the model by up to {diff:.3g} (> atol={atol:g}) on the verify rows; "
            "nothing was written. Please report this model's configuration"
        )


def _write(model: Any, path: Path) -> Path:
    try:
        data = model.SerializeToString()
    except ValueError as e:  # protobuf refuses messages over 2 GB
        raise OnnxExportError(f"the ONNX graph is too large for one file (protobuf's 2 GB limit): {e}") from e
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
