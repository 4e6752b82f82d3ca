"""ONNX export: one self-contained graph from the raw feature columns to the fitted model's predictions.

    >>> from automl.export.onnx import export_onnx, onnx_feed
    >>> export_onnx(result.best_model, "model.onnx", feature_columns=result.feature_columns,
    ...             feature_dtypes=result.feature_dtypes, task=result.task, classes=result.classes_)
    >>> session = onnxruntime.InferenceSession("model.onnx")
    >>> label, proba = session.run(None, onnx_feed(new_df, session))

**Inputs**, one per feature column, shape ``[N, 1]`` (the skl2onnx convention): ``tensor(float)`` for
numeric columns and for categorical/boolean columns whose pandas dtype is numeric or bool (missing =
NaN; booleans as 0/1), ``tensor(string)`` for the other categorical columns (missing =
``"__missing__"``, the marker the library's own preprocessing uses). :func:`onnx_feed` turns a
DataFrame into exactly that. **Outputs**: ``label`` [N] and ``probabilities`` [N, n_classes] (float,
columns in ``classes`` order) for classification; ``prediction`` [N] (float) for regression.

How each part is converted:

- preprocessing (the fitted ``ColumnTransformer``): standard ONNX ops written here. Each categorical
  column is a ``LabelEncoder`` lookup into a table probed from the fitted encoder, so one-hot,
  infrequent, dropped and unknown categories behave exactly as they do in scikit-learn; numeric
  columns get the fitted fill values, missing-value indicators and scaling. skl2onnx cannot take the
  library's ``FunctionTransformer`` steps, and its ``SimpleImputer`` converter ignores ``add_indicator``.
- scikit-learn forests, linear models and k-NN: skl2onnx. Histogram gradient boosting: a
  ``TreeEnsembleRegressor`` written here, because skl2onnx 1.20's converter ignores
  categorical splits (and, with onnx 1.23, fails to build its node at all).
- XGBoost: onnxmltools (native categorical splits become chains of equality tests).
- LightGBM: onnxmltools, from the booster trimmed to its best round. CatBoost: its own
  ``save_model(format="onnx")``, which refuses categorical features: refit with one-hot categories.
- PyTorch: ``torch.onnx.export``. Keras: ``model.export(format="onnx")``, which runs tf2onnx.
- the parts are joined with ``onnx.compose``; an ensemble's members share the inputs.

Everything is built in memory and checked before the file is written (through a temporary file and a
rename), so a failed export leaves no file. Computation is in float32, as in skl2onnx: expect
agreement with the native model to about 1e-5, less for features whose magnitude dwarfs their spread.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import InputError

#: Default-domain opset every part is exported with (onnx.compose cannot join different ones).
OPSET = 18
#: ``ai.onnx.ml`` opset: TreeEnsembleRegressor v3, LabelEncoder v2.
ML_OPSET = 3
INSTALL_HINT = "pip install 'automl-recommender[onnx]'"
TASKS = ("binary", "multiclass", "regression")
OUTPUTS = {"classification": ("label", "probabilities"), "regression": ("prediction",)}
#: Internal tensor names start with this, so they cannot clash with a feature column.
_PREFIX = "_automl/"
#: A category no encoder has seen, used to probe what an encoder does with unknown values.
_UNKNOWN = "\x00automl-unknown-category\x00"


class OnnxExportError(InputError, NotImplementedError):
    """The model uses something the ONNX export cannot represent; the message says what and what to do.

    An :class:`~automl.errors.InputError` (a ``ValueError``) and a ``NotImplementedError``, so either
    ``except`` catches it.
    """


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
) -> Path:
    """Write ``model`` (a fitted pipeline or ensemble of them) as one ONNX file and return its path.

    ``feature_columns``/``feature_dtypes``/``task``/``classes`` are the fitted result's
    (``AutoMLResult.feature_columns`` etc.). With ``verify`` (a DataFrame of feature rows) the graph
    is run with onnxruntime before writing and must match the model's own ``predict_proba`` (or
    ``predict``) within ``atol``; otherwise nothing is written and :class:`OnnxExportError` says by
    how much it differs. Raises :class:`OnnxExportError` for what cannot be exported (datetime or
    text columns, AutoKeras, models without a converter) and ``ImportError`` naming the package when
    a converter is not installed; in every failure no file is left behind.
    """
    columns = [str(c) for c in feature_columns]
    classification = _check_arguments(model, columns, feature_dtypes, task)
    members, weights = _members(model)
    labels = _class_labels(model, classes) if classification else None
    _require("onnx")
    onnx_model = _build(members, weights, columns, feature_dtypes, classification, labels, task)
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
    clashes = [c for c in columns if c.startswith(_PREFIX) or c in outputs]
    if clashes:
        raise InputError(
            f"feature columns {clashes!r} clash with the ONNX graph's output names {outputs} (or its internal "
            f"names, which start with {_PREFIX!r}); rename those columns and refit"
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


def _members(model: Any) -> tuple[list[Any], list[float]]:
    """The pipelines to convert and their weights: one with weight 1, or an ensemble's members."""
    from sklearn.pipeline import Pipeline

    if type(model).__name__ == "WeightedEnsemble" and hasattr(model, "members"):
        members, weights = list(model.members or []), [float(w) for w in model.weights or []]
        if not members or len(members) != len(weights):
            raise InputError("the ensemble has no members, or not one weight per member; is it fitted?")
    else:
        members, weights = [model], [1.0]
    for m in members:
        if not isinstance(m, Pipeline) or len(m.steps) != 2:
            raise OnnxExportError(
                f"ONNX export takes the library's fitted pipelines (preprocess + model), got "
                f"{type(m).__name__}; pass result.best_model"
            )
        _converter(m.steps[-1][1])
        _blocks(m.steps[0][1])
    return members, weights


# -- small ONNX helpers ----------------------------------------------------------------------------


def _require(module: str, package: str | None = None, hint: str = INSTALL_HINT) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"ONNX export needs the {package or module} package: {hint}") from e


class _Graph:
    """Nodes and constants of a small graph being written, named under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def const(self, value: Any, hint: str = "const") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], *, out: str | None = None, domain: str = "",
           **attrs: Any) -> str:
        from onnx import helper

        output = out or self.name(op_type.lower())
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [output], name=self.name(op_type), domain=domain, **attrs)
        )
        return output

    def model(self, inputs: list[Any], outputs: list[Any]) -> Any:
        from onnx import helper

        graph = helper.make_graph(self.nodes, self.prefix.strip("/") or "graph", inputs, outputs, self.initializers)
        return _new_model(graph)


def _new_model(graph: Any) -> Any:
    from onnx import helper

    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="automl-recommender",
        ir_version=9,
    )


def _tensor(name: str, kind: str, shape: Sequence[Any]) -> Any:
    from onnx import TensorProto, helper

    elem = {"float": TensorProto.FLOAT, "string": TensorProto.STRING}[kind]
    return helper.make_tensor_value_info(name, elem, list(shape))


def _align(models: Sequence[Any]) -> None:
    """Give the models one IR version and one opset per domain, as onnx.compose needs."""
    from onnx import helper, version_converter

    versions: dict[str, int] = {}
    for m in models:
        for entry in m.opset_import:
            versions[entry.domain or ""] = max(versions.get(entry.domain or "", 0), entry.version)
    versions[""] = OPSET
    for m in models:
        current = {e.domain or "": e.version for e in m.opset_import}
        if current.get("", OPSET) != OPSET:  # a converter that ignored the requested opset
            converted = version_converter.convert_version(m, OPSET)
            m.CopyFrom(converted)
        del m.opset_import[:]
        # Only the ai.onnx.ml version is raised: its later versions only add attributes.
        m.opset_import.extend(helper.make_opsetid(d, v) for d, v in sorted(versions.items()))
    ir = max(m.ir_version for m in models)
    for m in models:
        m.ir_version = ir


def _merge(first: Any, second: Any, io_map: list[tuple[str, str]]) -> Any:
    from onnx import compose

    _align([first, second])
    merged = compose.merge_models(first, second, io_map=io_map, producer_name="automl-recommender")
    unique = {(e.domain, e.version): e for e in merged.opset_import}  # merge_models lists both models' entries
    del merged.opset_import[:]
    merged.opset_import.extend(unique.values())
    return merged


def _union(models: Sequence[Any]) -> Any:
    """Side-by-side graphs sharing their same-named inputs (internal names are already distinct)."""
    from onnx import helper

    _align(models)
    nodes: list[Any] = []
    inits: list[Any] = []
    infos: list[Any] = []
    outputs: list[Any] = []
    inputs: dict[str, Any] = {}
    functions: dict[tuple[str, str, str], Any] = {}
    for m in models:
        g = m.graph
        nodes += list(g.node)
        inits += list(g.initializer)
        infos += list(g.value_info)
        outputs += list(g.output)
        for i in g.input:
            inputs.setdefault(i.name, i)
        for f in m.functions:
            functions.setdefault((f.domain, f.name, getattr(f, "overload", "")), f)
    graph = helper.make_graph(nodes, "automl", list(inputs.values()), outputs, inits, value_info=infos)
    merged = helper.make_model(graph, opset_imports=list(models[0].opset_import), functions=list(functions.values()))
    merged.ir_version = models[0].ir_version
    return merged


def _subgraph_names(node: Any) -> set[str]:
    names: set[str] = set()
    for attr in node.attribute:
        for sub in list(attr.g.node if attr.HasField("g") else []) + [n for g in attr.graphs for n in g.node]:
            names.update(sub.input)
            names |= _subgraph_names(sub)
    return names


def _prune(graph: Any) -> None:
    """Drop the nodes and constants no graph output depends on (e.g. a converter's label output)."""
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
            needed |= _subgraph_names(node)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    inits = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def _rename(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for v in list(graph.input) + list(graph.output) + list(graph.value_info):
        if v.name == old:
            v.name = new


def _as_scores(model: Any, x_name: str, y_name: str, tail: Callable[[_Graph, str], str], width: int | None) -> Any:
    """A converter's model reshaped to the common form: input ``features``, one output ``scores``.

    ``tail`` appends the nodes from the converter's output ``y_name`` to the scores: probabilities
    [N, n_classes] (``width``) or regression values [N] (``width`` None).
    """
    g = _Graph(_PREFIX + "tail/")
    g.op("Identity", [tail(g, y_name)], out="scores")
    graph = model.graph
    graph.node.extend(g.nodes)
    graph.initializer.extend(g.initializers)
    _rename(graph, x_name, "features")
    inits = {t.name for t in graph.initializer}
    real = [i for i in graph.input if i.name == "features" or i.name in inits]
    del graph.input[:]
    graph.input.extend(real)
    del graph.output[:]
    graph.output.append(_tensor("scores", "float", ["N"] if width is None else ["N", width]))
    _prune(graph)
    return model


def _flatten(g: _Graph, name: str) -> str:
    return g.op("Reshape", [name, g.const(np.array([-1], dtype=np.int64), "shape")])


# -- preprocessing ---------------------------------------------------------------------------------


def _is_numeric_dtype(dtype: str) -> bool:
    import pandas as pd

    try:
        dt = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        return False
    return bool(pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt))


def _blocks(pre: Any) -> list[tuple[str, str, list[str], list[Any]]]:
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


def _input_kinds(members: list[Any], columns: list[str], dtypes: dict[str, str]) -> dict[str, str]:
    """Each feature column's input type: 'float', or 'string' for non-numeric categorical columns."""
    dtypes = {str(k): str(v) for k, v in dtypes.items()}
    kinds = {c: "float" for c in columns}
    used: set[str] = set()
    for m in members:
        for _, kind, cols, _ in _blocks(m.steps[0][1]):
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
    g: _Graph, steps: list[Any], cols: list[str], kinds: dict[str, str]
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


def _imputed(g: _Graph, x: str, imputer: Any, flagged: Any, cols: list[str]) -> tuple[str, int]:
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


def _numeric_block(g: _Graph, steps: list[Any], cols: list[str]) -> tuple[str, int]:
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


def _preprocess_graph(pre: Any, kinds: dict[str, str], prefix: str) -> tuple[Any, int]:
    """The fitted ColumnTransformer as a graph from the raw inputs to ``{prefix}features``."""
    g = _Graph(prefix)
    parts: list[str] = []
    for name, kind, cols, steps in _blocks(pre):
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
    inputs = [_tensor(c, k, ["N", 1]) for c, k in kinds.items()]
    width = _output_width(pre)
    return g.model(inputs, [_tensor(f"{prefix}features", "float", ["N", width])]), width


def _output_width(pre: Any) -> int:
    indices = getattr(pre, "output_indices_", {})
    return int(max((s.stop for s in indices.values()), default=0))


# -- estimators ------------------------------------------------------------------------------------


def _in_module(est: Any, module: str) -> bool:
    return any(c.__module__ == module for c in type(est).__mro__)


def _converter(est: Any) -> Callable[[Any, int, int | None], Any]:
    """The function that converts ``est``; raises before any work when there is none."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    from search_spaces import _staged

    if _in_module(est, "search_spaces._autokeras_model"):
        raise OnnxExportError(
            "AutoKeras models cannot be exported to ONNX: they hold AutoKeras' own preprocessing layers, "
            "which tf2onnx does not convert. Export a model of another framework instead, e.g. refit with "
            "automl.fit(..., frameworks=['keras', 'torch', 'sklearn', 'xgboost'])"
        )
    if isinstance(est, _staged._StagedHGB):
        return lambda e, n, w: _hgb_graph(e.estimator_, n, w)
    if isinstance(est, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        return _hgb_graph
    if isinstance(est, _staged._StagedForest):
        return lambda e, n, w: _skl2onnx_graph(e.estimator_, n, w)
    if isinstance(est, (KNeighborsClassifier, KNeighborsRegressor)) and est.weights != "uniform":
        raise OnnxExportError(
            f"k-NN with weights={est.weights!r} cannot be exported: skl2onnx 1.20's converter gets distance "
            "weights wrong (it weighs every neighbour alike). Refit k-NN with weights='uniform', or export "
            "another model"
        )
    if _in_module(est, "search_spaces._xgboost_model"):
        return _xgboost_graph
    if _in_module(est, "search_spaces._lightgbm_model"):
        return _lightgbm_graph
    if _in_module(est, "search_spaces._catboost_model"):
        if est.n_categorical:
            raise OnnxExportError(
                "CatBoost models with native categorical features cannot be exported to ONNX: CatBoost's "
                "ONNX export does not support categorical features. Refit CatBoost with one-hot categories "
                "(categorical='onehot'), or export a model of another framework"
            )
        return _catboost_graph
    if _in_module(est, "search_spaces._torch_model"):
        return _torch_graph
    if _in_module(est, "search_spaces._keras_model"):
        return _keras_graph
    if type(est).__module__.startswith("sklearn."):
        return _skl2onnx_graph
    raise OnnxExportError(
        f"no ONNX converter for {type(est).__module__}.{type(est).__name__}; the export covers the library's "
        "scikit-learn, XGBoost, LightGBM, CatBoost, PyTorch and Keras models"
    )


def _proba_tail(width: int | None) -> Callable[[_Graph, str], str]:
    return (lambda g, y: _flatten(g, y)) if width is None else (lambda g, y: y)


def _skl2onnx_graph(est: Any, n_features: int, width: int | None) -> Any:
    skl2onnx = _require("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(est): {"zipmap": False}} if width is not None else None
    try:
        onx = skl2onnx.convert_sklearn(
            est,
            initial_types=[("features", FloatTensorType([None, n_features]))],
            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
            options=options,
        )
    except (RuntimeError, NotImplementedError, TypeError) as e:
        raise OnnxExportError(f"skl2onnx cannot convert {type(est).__name__}: {e}") from e
    names = [o.name for o in onx.graph.output]
    out = "probabilities" if width is not None else "variable"
    if out not in names:
        raise OnnxExportError(f"skl2onnx gave {type(est).__name__} the outputs {names}, not {out!r}")
    return _as_scores(onx, "features", out, _proba_tail(width), width)


def _hgb_graph(hgb: Any, n_features: int, width: int | None) -> Any:
    """Histogram gradient boosting as a TreeEnsembleRegressor over the raw scores, then the link.

    A categorical split becomes a chain of equality tests on the categories that leave the missing
    value's side, so unknown categories (and NaN) follow the missing values, as in scikit-learn.
    """
    link = type(getattr(hgb._loss, "link", None)).__name__
    if width is None and link != "IdentityLink":
        raise OnnxExportError(
            f"histogram gradient boosting with loss={hgb.loss!r} cannot be exported; refit with loss='squared_error'"
        )
    known, f_idx_map = hgb._bin_mapper.make_known_categories_bitsets()
    n_targets = int(hgb.n_trees_per_iteration_)
    attrs: dict[str, Any] = {k: [] for k in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
        "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
        "target_treeids", "target_nodeids", "target_ids", "target_weights")}
    tree_id = 0
    for predictors in hgb._predictors:
        for k, predictor in enumerate(predictors):
            _add_hgb_tree(attrs, tree_id, k, predictor, known, f_idx_map)
            tree_id += 1
    if tree_id == 0:  # no boosting rounds: the baseline alone
        for key, value in (("nodes_treeids", 0), ("nodes_nodeids", 0), ("nodes_featureids", 0),
                           ("nodes_modes", "LEAF"), ("nodes_values", 0.0), ("nodes_truenodeids", 0),
                           ("nodes_falsenodeids", 0), ("nodes_missing_value_tracks_true", 0),
                           ("target_treeids", 0), ("target_nodeids", 0), ("target_ids", 0),
                           ("target_weights", 0.0)):
            attrs[key].append(value)
    g = _Graph(_PREFIX + "hgb/")
    raw = g.op("TreeEnsembleRegressor", [_hgb_inputs(g, hgb)], domain="ai.onnx.ml", n_targets=n_targets,
               aggregate_function="SUM", post_transform="NONE",
               base_values=[float(v) for v in np.ravel(hgb._baseline_prediction)], **attrs)
    if width is None:
        out = _flatten(g, raw)
    elif n_targets == 1:
        p = g.op("Sigmoid", [raw])
        out = g.op("Concat", [g.op("Sub", [g.const(np.ones((1, 1), np.float32)), p]), p], axis=1)
    else:
        out = g.op("Softmax", [raw], axis=1)
    g.op("Identity", [out], out="scores")
    return g.model([_tensor("features", "float", ["N", n_features])],
                   [_tensor("scores", "float", ["N"] if width is None else ["N", width])])


def _hgb_inputs(g: _Graph, hgb: Any) -> str:
    """What the trees read: with categorical features, scikit-learn first moves them to the front and
    re-encodes each value as its index among the values seen in fit (unseen and NaN: NaN)."""
    pre = getattr(hgb, "_preprocessor", None)
    if pre is None:
        return "features"
    mask = np.asarray(hgb.is_categorical_, dtype=bool)
    encoder = pre.named_transformers_["encoder"]
    parts = []
    for j, column in enumerate(np.flatnonzero(mask)):
        seen = [float(v) for v in encoder.categories_[j] if not np.isnan(v)]
        x = g.op("Gather", ["features", g.const(np.array([column], dtype=np.int64), "column")], axis=1)
        parts.append(g.op("LabelEncoder", [x], domain="ai.onnx.ml", keys_floats=seen,
                          values_floats=[float(i) for i in range(len(seen))], default_float=float("nan")))
    if (~mask).any():
        parts.append(g.op("Gather", ["features", g.const(np.flatnonzero(~mask).astype(np.int64), "columns")], axis=1))
    return g.op("Concat", parts, axis=1) if len(parts) > 1 else parts[0]


def _bitset(row: np.ndarray) -> set[int]:
    return {b for b in range(32 * len(row)) if (int(row[b // 32]) >> (b % 32)) & 1}


def _add_hgb_tree(attrs: dict[str, list[Any]], tree_id: int, target: int, predictor: Any,
                  known: np.ndarray, f_idx_map: np.ndarray) -> None:
    nodes = predictor.nodes
    next_id = len(nodes)

    def add(node_id: int, feature: int, mode: str, value: float, true_id: int, false_id: int, nan_true: bool) -> None:
        for key, v in (("nodes_treeids", tree_id), ("nodes_nodeids", node_id), ("nodes_featureids", feature),
                       ("nodes_modes", mode), ("nodes_values", value), ("nodes_truenodeids", true_id),
                       ("nodes_falsenodeids", false_id), ("nodes_missing_value_tracks_true", int(nan_true))):
            attrs[key].append(v)

    for i, node in enumerate(nodes):
        left, right, feature = int(node["left"]), int(node["right"]), int(node["feature_idx"])
        if node["is_leaf"]:
            add(i, 0, "LEAF", 0.0, 0, 0, False)
            for key, v in (("target_treeids", tree_id), ("target_nodeids", i), ("target_ids", target),
                           ("target_weights", float(node["value"]))):
                attrs[key].append(v)
        elif not node["is_categorical"]:
            add(i, feature, "BRANCH_LEQ", float(node["num_threshold"]), left, right, bool(node["missing_go_to_left"]))
        else:
            go_left = _bitset(predictor.raw_left_cat_bitsets[node["bitset_idx"]])
            seen = _bitset(known[f_idx_map[feature]])
            # Test the categories that do not go where missing/unknown values go; the rest fall through.
            tested: list[float]
            if node["missing_go_to_left"]:
                tested, hit, miss = [float(c) for c in sorted(seen - go_left)], right, left
            else:
                tested, hit, miss = [float(c) for c in sorted(go_left)], left, right
            tested = tested or [-3.0e38]  # nothing to test: a comparison that never holds
            ids = [i] + list(range(next_id, next_id + len(tested) - 1))
            next_id += len(tested) - 1
            for j, (node_id, category) in enumerate(zip(ids, tested, strict=True)):
                fallthrough = ids[j + 1] if j + 1 < len(ids) else miss
                add(node_id, feature, "BRANCH_EQ", float(category), hit, fallthrough, False)


def _xgboost_graph(est: Any, n_features: int, width: int | None) -> Any:
    onnxmltools = _require("onnxmltools")
    from onnxmltools.convert.common.data_types import FloatTensorType
    from onnxmltools.convert.common.onnx_ex import get_maximum_opset_supported

    # onnxmltools 1.16 writes at most opset 15; _align raises it to OPSET with onnx's version converter.
    opset = min(OPSET, get_maximum_opset_supported())
    try:
        onx = onnxmltools.convert_xgboost(
            est.model_, initial_types=[("features", FloatTensorType([None, n_features]))], target_opset=opset
        )
    except Exception as e:  # onnxmltools raises bare RuntimeError/ValueError/AssertionError on what it lacks
        reason = "its native categorical splits" if est.n_categorical else "its trees"
        raise OnnxExportError(
            f"onnxmltools could not convert the XGBoost model ({reason}): {e}. "
            "Refit XGBoost with one-hot categories (categorical='onehot') and export again"
        ) from e
    names = [o.name for o in onx.graph.output]
    out = "probabilities" if width is not None else "variable"
    if out not in names:
        out = names[-1] if width is not None else names[0]
    return _as_scores(onx, onx.graph.input[0].name, out, _proba_tail(width), width)


def _lightgbm_graph(est: Any, n_features: int, width: int | None) -> Any:
    """The booster (trimmed to its best round at fit) via onnxmltools' LightGBM converter."""
    onnxmltools = _require("onnxmltools")
    from onnxmltools.convert.common.data_types import FloatTensorType
    from onnxmltools.convert.common.onnx_ex import get_maximum_opset_supported

    opset = min(OPSET, get_maximum_opset_supported())
    try:
        onx = onnxmltools.convert_lightgbm(
            _float32_thresholds(est.booster_), initial_types=[("features", FloatTensorType([None, n_features]))],
            target_opset=opset, zipmap=False,
        )
    except Exception as e:  # onnxmltools raises bare RuntimeError/ValueError/AssertionError on what it lacks
        reason = "its native categorical splits" if est.n_categorical else "its trees"
        raise OnnxExportError(
            f"onnxmltools could not convert the LightGBM model ({reason}): {e}. "
            "Refit LightGBM with one-hot categories (categorical='onehot') and export again"
        ) from e
    names = [o.name for o in onx.graph.output]
    out = "probabilities" if width is not None else "variable"
    if out not in names:
        out = names[-1] if width is not None else names[0]
    return _as_scores(onx, onx.graph.input[0].name, out, _proba_tail(width), width)


def _float32_thresholds(booster: Any) -> Any:
    """A copy of the booster whose split thresholds are float32 numbers, each rounded down.

    LightGBM compares a feature with a float64 threshold; the ONNX graph compares in float32. The
    estimator feeds LightGBM float32 features, and for a float32 ``x``, ``x <= t`` exactly when
    ``x <= t32``, the largest float32 not above ``t``; rounding ``t`` to nearest instead would send
    a value just above ``t`` the wrong way. Categorical splits store small integers there, unchanged.
    """
    import lightgbm

    def round_down(line: str) -> str:
        values = np.array(line[len("threshold="):].split(), dtype=np.float64)
        low = values.astype(np.float32)
        low = np.where(low.astype(np.float64) > values, np.nextafter(low, np.float32(-np.inf)), low)
        return "threshold=" + " ".join(repr(float(v)) for v in low)

    text = booster.model_to_string()
    # tree_sizes gives each tree's length in bytes, which the new numbers change; without it,
    # LightGBM finds the trees by their headers.
    lines = [round_down(x) if x.startswith("threshold=") else x for x in text.split("\n")
             if not x.startswith("tree_sizes=")]
    return lightgbm.Booster(model_str="\n".join(lines))


def _catboost_graph(est: Any, n_features: int, width: int | None) -> Any:
    """CatBoost's own ONNX export (numeric features only); its ZipMap output is cut off."""
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "catboost.onnx"
        try:
            est.model_.save_model(str(target), format="onnx")
        except Exception as e:  # CatBoostError, not importable without catboost
            raise OnnxExportError(f"CatBoost could not export the model to ONNX: {e}") from e
        onx = onnx.load(str(target))
    if width is None:
        out = onx.graph.output[0].name
    else:  # 'probabilities' is a ZipMap (a sequence of maps); take the tensor it is made from
        zipmap = next((n for n in onx.graph.node if n.op_type == "ZipMap"), None)
        out = zipmap.input[0] if zipmap is not None else onx.graph.output[-1].name
    return _as_scores(onx, onx.graph.input[0].name, out, _proba_tail(width), width)


def _torch_graph(est: Any, n_features: int, width: int | None) -> Any:
    """The fitted network with the estimator's input split and output transform, via torch.onnx.export."""
    import copy

    torch = _require("torch")
    _require("onnxscript", hint=f"{INSTALL_HINT} (torch.onnx.export needs onnxscript)")

    class Scores(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.net = copy.deepcopy(est.network_).cpu().eval()
            self.k = int(est.n_categorical)
            self.register_buffer("top", torch.tensor(est.cardinalities_, dtype=torch.float32) - 1)

        def forward(self, x: Any) -> Any:
            codes = torch.minimum(torch.clamp(x[:, : self.k], min=-1.0) + 1.0, self.top).to(torch.long)
            out = self.net(x[:, self.k :], codes)
            if width is not None:
                return torch.softmax(out, dim=1)
            return out[:, 0] * float(est.y_std_) + float(est.y_mean_)

    module = Scores().eval()
    example = torch.zeros((2, n_features), dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                module, (example,), input_names=["features"], output_names=["y"], opset_version=OPSET,
                dynamo=True, dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False,
            )
        except Exception as e:  # the exporter raises many types; the cause is chained
            raise OnnxExportError(f"torch.onnx.export could not export the network: {e}") from e
    onx = program.model_proto
    return _as_scores(onx, "features", "y", lambda g, y: y, width)


def _keras_graph(est: Any, n_features: int, width: int | None) -> Any:
    """The fitted Keras model via ``model.export(format="onnx")`` (tf2onnx), then the estimator's
    probability clean-up or target scaling."""
    from search_spaces._keras_model import import_keras

    import_keras()
    _require("tf2onnx", hint=f"pip install tf2onnx (Keras' ONNX export uses it), or {INSTALL_HINT}")
    import onnx
    import tensorflow as tf

    inputs = getattr(est.model_, "inputs", None) or []
    if len(inputs) != 1:
        raise OnnxExportError(f"the Keras model has {len(inputs)} inputs; ONNX export supports one feature matrix")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "keras.onnx"
        signature = [tf.TensorSpec((None, n_features), tf.float32, name="features")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                est.model_.export(str(target), format="onnx", verbose=False, input_signature=signature,
                                  opset_version=OPSET)
            except Exception as e:  # tf2onnx raises many types; the cause is chained
                raise OnnxExportError(f"Keras/tf2onnx could not export the model: {e}") from e
        onx = onnx.load(str(target))
    inits = {t.name for t in onx.graph.initializer}
    x_name = next(i.name for i in onx.graph.input if i.name not in inits)
    y_name = onx.graph.output[0].name
    dims = onx.graph.output[0].type.tensor_type.shape.dim
    units = int(dims[-1].dim_value) if dims and dims[-1].dim_value else int(est.model_.outputs[0].shape[-1])
    if width is not None and units not in (1, width):
        raise OnnxExportError(f"the Keras model outputs {units} units for {width} classes; expected {width} or 1")

    def tail(g: _Graph, y: str) -> str:
        if width is None:
            scaled = g.op("Mul", [_flatten(g, y), g.const(np.float32(est.y_std_), "std")])
            return g.op("Add", [scaled, g.const(np.float32(est.y_mean_), "mean")])
        if units == 1:  # one sigmoid unit -> [1 - p, p]
            y = g.op("Concat", [g.op("Sub", [g.const(np.ones((1, 1), np.float32)), y]), y], axis=1)
        clipped = g.op("Relu", [y])
        total = g.op("ReduceSum", [clipped, g.const(np.array([1], dtype=np.int64), "axes")], keepdims=1)
        return g.op("Div", [clipped, g.op("Max", [total, g.const(np.array(1e-12, np.float32))])])

    return _as_scores(onx, x_name, y_name, tail, width)


# -- assembly --------------------------------------------------------------------------------------


def _build(members: list[Any], weights: list[float], columns: list[str], dtypes: dict[str, str],
           classification: bool, labels: np.ndarray | None, task: str) -> Any:
    from onnx import checker, compose, helper

    kinds = _input_kinds(members, columns, dtypes)
    width = len(labels) if labels is not None else None
    parts = []
    for i, pipeline in enumerate(members):
        prefix = f"{_PREFIX}m{i}/"
        pre, n_features = _preprocess_graph(pipeline.steps[0][1], kinds, prefix + "pre/")
        est = pipeline.steps[-1][1]
        if classification and len(est.classes_) != width:
            raise InputError(f"member {i} predicts {len(est.classes_)} classes, not {width}")
        if getattr(est, "n_features_in_", n_features) != n_features:
            raise OnnxExportError(
                f"the preprocessing outputs {n_features} columns but the estimator takes {est.n_features_in_}"
            )
        scores = compose.add_prefix(_converter(est)(est, n_features, width), prefix + "est/")
        parts.append(_merge(pre, scores, [(f"{prefix}pre/features", f"{prefix}est/features")]))
    body = _union(parts) if len(parts) > 1 else parts[0]
    head, io_map = _head(len(members), weights, width, labels)
    model = _merge(body, head, io_map)
    model.producer_name = "automl-recommender"
    model.doc_string = "automl-recommender model: one input per feature column; see automl.export.onnx"
    meta = {
        "automl.task": task,
        "automl.feature_columns": json.dumps(columns),
        "automl.inputs": json.dumps(kinds),
        "automl.classes": json.dumps(None if labels is None else [_jsonable(c) for c in labels]),
        "automl.outputs": json.dumps(list(OUTPUTS["classification" if classification else "regression"])),
    }
    helper.set_model_props(model, meta)
    checker.check_model(model)
    return model


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _label_constant(labels: np.ndarray) -> np.ndarray:
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    if labels.dtype.kind == "b":
        return labels.astype(bool)
    if labels.dtype.kind == "f":
        return labels.astype(np.float64)
    return np.asarray([str(c) for c in labels], dtype=object)


def _head(
    n: int, weights: list[float], width: int | None, labels: np.ndarray | None
) -> tuple[Any, list[tuple[str, str]]]:
    """Weighted sum of the members' scores, then the named outputs (and the label by argmax)."""
    from onnx import helper

    g = _Graph(_PREFIX + "head/")
    shape = ["N"] if width is None else ["N", width]
    names = [f"{_PREFIX}m{i}/est/scores" for i in range(n)]
    inputs = [_tensor(f"{_PREFIX}head/in{i}", "float", shape) for i in range(n)]
    terms = [i.name if n == 1 else g.op("Mul", [i.name, g.const(np.float32(w), "weight")])
             for i, w in zip(inputs, weights, strict=True)]
    total = terms[0] if n == 1 else g.op("Sum", terms)
    if labels is None:
        g.op("Identity", [total], out="prediction")
        outputs = [_tensor("prediction", "float", ["N"])]
    else:
        g.op("Identity", [total], out="probabilities")
        idx = g.op("ArgMax", ["probabilities"], axis=1, keepdims=0)
        const = _label_constant(labels)
        g.op("Gather", [g.const(const, "classes"), idx], out="label", axis=0)
        elem = helper.np_dtype_to_tensor_dtype(const.dtype) if const.dtype != object else 8
        outputs = [helper.make_tensor_value_info("label", elem, ["N"]), _tensor("probabilities", "float", shape)]
    return g.model(inputs, outputs), [(name, i.name) for name, i in zip(names, inputs, strict=True)]


def _graph_input_kinds(model: Any) -> dict[str, str]:
    if hasattr(model, "get_inputs"):  # an onnxruntime session
        return {i.name: "string" if "string" in i.type else "float" for i in model.get_inputs()}
    onnx = _require("onnx")
    proto = model if hasattr(model, "graph") else onnx.load(str(model), load_external_data=False)
    inits = {t.name for t in proto.graph.initializer}
    return {
        i.name: "string" if i.type.tensor_type.elem_type == onnx.TensorProto.STRING else "float"
        for i in proto.graph.input
        if i.name not in inits
    }


def _verify(onnx_model: Any, model: Any, frame: Any, classification: bool, atol: float) -> None:
    ort = _require("onnxruntime")
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
