"""The library's fitted ``ColumnTransformer`` as standard ONNX ops, from the raw inputs to one float matrix.

Each categorical column is a ``LabelEncoder`` lookup into a table probed from the fitted encoder,
so one-hot, infrequent, dropped and unknown categories behave exactly as they do in scikit-learn;
numeric columns get the fitted fill values, missing-value indicators and scaling. skl2onnx cannot
take the library's ``FunctionTransformer`` steps, and its ``SimpleImputer`` converter ignores
``add_indicator``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from automl.errors import InputError
from automl.export.onnx._errors import OnnxExportError
from automl.export.onnx._graph import Graph, tensor

#: A category no encoder has seen, used to probe what an encoder does with unknown values.
_UNKNOWN = "\x00automl-unknown-category\x00"


def _is_numeric_dtype(dtype: str) -> bool:
    import pandas as pd

    try:
        dt = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        return False
    return bool(pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt))


def blocks(pre: Any) -> list[tuple[str, str, list[str], list[Any]]]:
    """The fitted transformer's blocks as (name, kind, columns, steps after the column selector)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from search_spaces._preprocess import DatetimeParts, _as_float, _as_strings, _text_column

    if not isinstance(pre, ColumnTransformer) or not hasattr(pre, "transformers_"):
        raise OnnxExportError(
            f"the pipeline's first step must be the library's fitted ColumnTransformer, got {type(pre).__name__}"
        )
    blocks = []
    for name, trans, cols in pre.transformers_:
        cols = [str(c) for c in np.atleast_1d(np.asarray(cols, dtype=object))] if cols is not None else []
        if isinstance(trans, str) and trans == "drop" or not cols:
            continue
        steps = [s for _, s in trans.steps] if isinstance(trans, Pipeline) else [trans]
        first = steps[0]
        func = getattr(first, "func", None) if isinstance(first, FunctionTransformer) else None
        if isinstance(first, DatetimeParts):
            raise OnnxExportError(
                f"datetime columns {cols!r} cannot be exported to ONNX: the graph has no date parsing. "
                "Add numeric columns (year, month, day, weekday, hour, epoch days) to the frame yourself, "
                "drop the datetime columns and refit, then export"
            )
        if func is _text_column or any(isinstance(s, TfidfVectorizer) for s in steps):
            raise OnnxExportError(
                f"text columns {cols!r} cannot be exported to ONNX: TF-IDF on free text has no exact "
                "ONNX translation here. Drop the text columns (or turn them into numeric features) and refit"
            )
        if func is _as_strings:
            blocks.append((name, "categorical", cols, steps[1:]))
        elif func is _as_float:
            blocks.append((name, "numeric", cols, steps[1:]))
        else:
            raise OnnxExportError(
                f"the preprocessing block {name!r} ({type(first).__name__}) was not built by the library's "
                "make_preprocessor, so its ONNX translation is unknown; export the estimator with skl2onnx yourself"
            )
    return blocks


def input_kinds(members: list[Any], columns: list[str], dtypes: dict[str, str]) -> dict[str, str]:
    """Each feature column's input type: 'float', or 'string' for non-numeric categorical columns."""
    dtypes = {str(k): str(v) for k, v in dtypes.items()}
    kinds = {c: "float" for c in columns}
    used: set[str] = set()
    for m in members:
        for _, kind, cols, _ in blocks(m.steps[0][1]):
            used.update(cols)
            if kind == "categorical":
                for c in cols:
                    if c in kinds and not _is_numeric_dtype(dtypes[c]):
                        kinds[c] = "string"
    unknown = sorted(used - set(columns))
    if unknown:
        raise InputError(f"the model reads columns {unknown!r} that are not in feature_columns; pass the result's")
    return kinds


def _run_steps(steps: list[Any], X: Any) -> np.ndarray:
    for step in steps:
        X = step.transform(X)
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)


def _category_number(category: Any, column: str) -> float:
    text = str(category)
    if text in ("True", "False"):
        return 1.0 if text == "True" else 0.0
    try:
        return float(text)
    except ValueError as e:
        raise OnnxExportError(
            f"column {column!r} has a numeric dtype but the fitted category {text!r} is not a number; "
            "pass the feature_dtypes the model was fitted with"
        ) from e


def _categorical_block(
    g: Graph, steps: list[Any], cols: list[str], kinds: dict[str, str]
) -> tuple[list[str], int]:
    """Per column: category -> row of a table holding what the fitted encoder outputs for it."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    from search_spaces._preprocess import MISSING

    encoder = steps[0] if steps else None
    if not isinstance(encoder, (OneHotEncoder, OrdinalEncoder)):
        raise OnnxExportError(
            f"categorical columns {cols!r} use {type(encoder).__name__}, which has no ONNX translation"
        )
    categories = [list(c) for c in encoder.categories_]
    widths = list(getattr(encoder, "_n_features_outs", None) or [1] * len(cols))
    if not isinstance(encoder, OneHotEncoder):
        widths = [1] * len(cols)
    rows = max(len(c) for c in categories) + 1
    probe = np.empty((rows, len(cols)), dtype=object)
    for i, cats in enumerate(categories):
        probe[:, i] = [*cats, _UNKNOWN, *[cats[0]] * (rows - len(cats) - 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "unknown categories found": the probe's last row, on purpose
        try:
            table = _run_steps(steps, probe)
        except ValueError as e:
            raise OnnxExportError(
                f"the encoder of {cols!r} rejects unknown categories (handle_unknown='error'), which an ONNX "
                "graph cannot do; refit with the library's preprocessing"
            ) from e
    if table.shape[1] != sum(widths):
        raise OnnxExportError(
            f"could not map the encoded columns of {cols!r} back to their inputs "
            f"({table.shape[1]} outputs, expected {sum(widths)}); this encoder setup is not exportable"
        )
    outputs, start = [], 0
    for col, cats, width in zip(cols, categories, widths, strict=True):
        lookup = table[: len(cats) + 1, start : start + width].astype(np.float32)
        start += width
        if width == 0:
            continue
        unknown = np.array([len(cats)], dtype=np.int64)
        if kinds[col] == "string":
            idx = g.op("LabelEncoder", [col], domain="ai.onnx.ml", keys_strings=[str(c) for c in cats],
                       values_int64s=list(range(len(cats))), default_int64=-1)
        else:
            keyed = [(i, _category_number(c, col)) for i, c in enumerate(cats) if str(c) != MISSING]
            keys = [np.float32(v) for _, v in keyed]
            if len(set(keys)) != len(keys):
                raise OnnxExportError(f"column {col!r} has categories that collide as float32 numbers: {cats!r}")
            missing_row = next((i for i, c in enumerate(cats) if str(c) == MISSING), len(cats))
            found = (
                g.op("LabelEncoder", [col], domain="ai.onnx.ml", keys_floats=[float(k) for k in keys],
                     values_int64s=[i for i, _ in keyed], default_int64=-1)
                if keyed else g.const(np.array([-1], dtype=np.int64))
            )
            idx = g.op("Where", [g.op("IsNaN", [col]), g.const(np.array([missing_row], dtype=np.int64)), found])
        zero = g.const(np.array([0], dtype=np.int64))
        idx = g.op("Where", [g.op("Less", [idx, zero]), g.const(unknown), idx])
        idx = g.op("Squeeze", [idx, g.const(np.array([1], dtype=np.int64), "axes")])
        outputs.append(g.op("Gather", [g.const(lookup, "table"), idx], axis=0))
    return outputs, int(table.shape[1])


def _imputed(g: Graph, x: str, imputer: Any, flagged: Any, cols: list[str]) -> tuple[str, int]:
    """A fitted SimpleImputer's fill values, then NaN indicators of the ``flagged`` input columns."""
    if not (isinstance(imputer.missing_values, float) and np.isnan(imputer.missing_values)):
        raise OnnxExportError(f"the imputer of {cols!r} treats {imputer.missing_values!r} as missing; only NaN is")
    stats = np.asarray(imputer.statistics_, dtype=np.float64)
    keep = np.ones(len(stats), dtype=bool) if imputer.keep_empty_features else ~np.isnan(stats)
    fill = np.nan_to_num(stats, nan=0.0).astype(np.float32).reshape(1, -1)
    filled = g.op("Where", [g.op("IsNaN", [x]), g.const(fill, "fill"), x])
    if not keep.all():
        filled = g.op("Gather", [filled, g.const(np.flatnonzero(keep).astype(np.int64))], axis=1)
    parts, width = [filled], int(keep.sum())
    if len(flagged):
        which = g.op("Gather", [x, g.const(np.asarray(flagged, dtype=np.int64))], axis=1)
        parts.append(g.op("Cast", [g.op("IsNaN", [which])], to=1))
        width += len(flagged)
    return (g.op("Concat", parts, axis=1) if len(parts) > 1 else filled), width


def _numeric_block(g: Graph, steps: list[Any], cols: list[str]) -> tuple[str, int]:
    """Numbers in, then the fitted imputer (fill values, missing indicators) and scaler."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    from search_spaces._preprocess import MedianImputer

    x = g.op("Concat", cols, axis=1) if len(cols) > 1 else cols[0]
    width = len(cols)
    for step in steps:
        if isinstance(step, MedianImputer):
            x, width = _imputed(g, x, step.imputer_, step.indicator_columns_, cols)
        elif isinstance(step, SimpleImputer):
            indicator = getattr(step, "indicator_", None) if step.add_indicator else None
            flagged = indicator.features_ if indicator is not None else []
            x, width = _imputed(g, x, step, flagged, cols)
        elif isinstance(step, StandardScaler):
            if step.mean_ is not None and step.with_mean:
                x = g.op("Sub", [x, g.const(np.asarray(step.mean_, dtype=np.float32).reshape(1, -1), "mean")])
            if step.scale_ is not None and step.with_std:
                x = g.op("Div", [x, g.const(np.asarray(step.scale_, dtype=np.float32).reshape(1, -1), "scale")])
        else:
            raise OnnxExportError(f"numeric columns {cols!r} use {type(step).__name__}, which has no ONNX translation")
    return x, width


def preprocess_graph(pre: Any, kinds: dict[str, str], prefix: str) -> tuple[Any, int]:
    """The fitted ColumnTransformer as a graph from the raw inputs to ``{prefix}features``."""
    g = Graph(prefix)
    parts: list[str] = []
    for name, kind, cols, steps in blocks(pre):
        if kind == "categorical":
            block, width = _categorical_block(g, steps, cols, kinds)
        else:
            out, width = _numeric_block(g, steps, cols)
            block = [out]
        fitted = pre.output_indices_[name]
        if width != fitted.stop - fitted.start:  # the graph must line up with the fitted columns
            raise OnnxExportError(
                f"the ONNX translation of block {name!r} gives {width} columns, scikit-learn "
                f"{fitted.stop - fitted.start}; this preprocessing is not exportable"
            )
        parts += block
    if not parts:
        raise OnnxExportError("the preprocessing outputs no columns; nothing to export")
    g.op("Concat", parts, out=f"{prefix}features", axis=1)
    inputs = [tensor(c, k, ["N", 1]) for c, k in kinds.items()]
    width = _output_width(pre)
    return g.model(inputs, [tensor(f"{prefix}features", "float", ["N", width])]), width


def _output_width(pre: Any) -> int:
    indices = getattr(pre, "output_indices_", {})
    return int(max((s.stop for s in indices.values()), default=0))
