"""Graph writers for fitted estimators: each returns an ONNX model with the input ``features``
[N, n_features] and the output ``scores`` (probabilities [N, n_classes], or values [N]).

- scikit-learn forests, linear models and k-NN: skl2onnx.
- XGBoost: onnxmltools (native categorical splits become chains of equality tests).
- LightGBM: onnxmltools, from the booster trimmed to its best round. CatBoost: its own
  ``save_model(format="onnx")``, which refuses categorical features.
- PyTorch: ``torch.onnx.export``. Keras: ``model.export(format="onnx")``, which runs tf2onnx.

Which writer applies to which estimator is decided in :mod:`automl.export.onnx._converters`.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from automl.export.onnx._errors import OnnxExportError
from automl.export.onnx._graph import INSTALL_HINT, ML_OPSET, OPSET, Graph, as_scores, flatten, proba_tail, require


def skl2onnx_graph(est: Any, n_features: int, width: int | None) -> Any:
    skl2onnx = require("skl2onnx")
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
    return as_scores(onx, "features", out, proba_tail(width), width)


def xgboost_graph(est: Any, n_features: int, width: int | None) -> Any:
    onnxmltools = require("onnxmltools")
    from onnxmltools.convert.common.data_types import FloatTensorType
    from onnxmltools.convert.common.onnx_ex import get_maximum_opset_supported

    # onnxmltools 1.16 writes at most opset 15; _align raises it to OPSET with onnx's version converter.
    opset = min(OPSET, get_maximum_opset_supported())
    try:
        onx = onnxmltools.convert_xgboost(
            est.model_, initial_types=[("features", FloatTensorType([None, n_features]))], target_opset=opset
        )
    except Exception as e:  # onnxmltools raises bare RuntimeError/ValueError/AssertionError on what it lacks
        raise _booster_error("XGBoost", est, e) from e
    return _booster_scores(onx, width)


def lightgbm_graph(est: Any, n_features: int, width: int | None) -> Any:
    """The booster (trimmed to its best round at fit) via onnxmltools' LightGBM converter."""
    onnxmltools = require("onnxmltools")
    from onnxmltools.convert.common.data_types import FloatTensorType
    from onnxmltools.convert.common.onnx_ex import get_maximum_opset_supported

    opset = min(OPSET, get_maximum_opset_supported())
    try:
        onx = onnxmltools.convert_lightgbm(
            _float32_thresholds(est.booster_), initial_types=[("features", FloatTensorType([None, n_features]))],
            target_opset=opset, zipmap=False,
        )
    except Exception as e:  # onnxmltools raises bare RuntimeError/ValueError/AssertionError on what it lacks
        raise _booster_error("LightGBM", est, e) from e
    return _booster_scores(onx, width)


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


def catboost_graph(est: Any, n_features: int, width: int | None) -> Any:
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
    return as_scores(onx, onx.graph.input[0].name, out, proba_tail(width), width)


def torch_graph(est: Any, n_features: int, width: int | None) -> Any:
    """The fitted network with the estimator's input split and output transform, via torch.onnx.export."""
    import copy

    torch = require("torch")
    require("onnxscript", hint=f"{INSTALL_HINT} (torch.onnx.export needs onnxscript)")

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
    return as_scores(onx, "features", "y", lambda g, y: y, width)


def keras_graph(est: Any, n_features: int, width: int | None) -> Any:
    """The fitted Keras model via ``model.export(format="onnx")`` (tf2onnx), then the estimator's
    probability clean-up or target scaling."""
    from search_spaces._keras_model import import_keras

    backend = import_keras().backend.backend()
    if backend != "tensorflow":
        raise OnnxExportError(
            f"ONNX export of a Keras model needs Keras' TensorFlow backend (tf2onnx), but this process runs Keras "
            f"on {backend!r}: export from a new process started with KERAS_BACKEND=tensorflow (the saved .keras "
            "model loads on any backend)"
        )
    require("tf2onnx", hint=f"pip install tf2onnx (Keras' ONNX export uses it), or {INSTALL_HINT}")
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

    def tail(g: Graph, y: str) -> str:
        if width is None:
            scaled = g.op("Mul", [flatten(g, y), g.const(np.float32(est.y_std_), "std")])
            return g.op("Add", [scaled, g.const(np.float32(est.y_mean_), "mean")])
        if units == 1:  # one sigmoid unit -> [1 - p, p]
            y = g.op("Concat", [g.op("Sub", [g.const(np.ones((1, 1), np.float32)), y]), y], axis=1)
        clipped = g.op("Relu", [y])
        total = g.op("ReduceSum", [clipped, g.const(np.array([1], dtype=np.int64), "axes")], keepdims=1)
        return g.op("Div", [clipped, g.op("Max", [total, g.const(np.array(1e-12, np.float32))])])

    return as_scores(onx, x_name, y_name, tail, width)


def _booster_error(name: str, est: Any, error: Exception) -> OnnxExportError:
    """What onnxmltools could not convert in a booster, and the refit that avoids it."""
    reason = "its native categorical splits" if est.n_categorical else "its trees"
    return OnnxExportError(
        f"onnxmltools could not convert the {name} model ({reason}): {error}. "
        f"Refit {name} with one-hot categories (categorical='onehot') and export again"
    )


def _booster_scores(onx: Any, width: int | None) -> Any:
    """The converted booster's probability (classification) or value (regression) output as scores."""
    names = [o.name for o in onx.graph.output]
    out = "probabilities" if width is not None else "variable"
    if out not in names:
        out = names[-1] if width is not None else names[0]
    return as_scores(onx, onx.graph.input[0].name, out, proba_tail(width), width)
