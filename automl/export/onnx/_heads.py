"""The graph's outputs: the members' weighted scores as ``probabilities`` and ``label`` (by argmax)
for classification, or ``prediction`` for regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.export.onnx._graph import PREFIX, Graph, tensor

#: The graph's output names for each kind of task.
OUTPUTS = {"classification": ("label", "probabilities"), "regression": ("prediction",)}


def jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _label_constant(labels: np.ndarray) -> np.ndarray:
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    if labels.dtype.kind == "b":
        return labels.astype(bool)
    if labels.dtype.kind == "f":
        return labels.astype(np.float64)
    return np.asarray([str(c) for c in labels], dtype=object)


def head(
    n: int, weights: list[float], width: int | None, labels: np.ndarray | None
) -> tuple[Any, list[tuple[str, str]]]:
    """Weighted sum of the members' scores, then the named outputs (and the label by argmax)."""
    from onnx import helper

    g = Graph(PREFIX + "head/")
    shape = ["N"] if width is None else ["N", width]
    names = [f"{PREFIX}m{i}/est/scores" for i in range(n)]
    inputs = [tensor(f"{PREFIX}head/in{i}", "float", shape) for i in range(n)]
    terms = [i.name if n == 1 else g.op("Mul", [i.name, g.const(np.float32(w), "weight")])
             for i, w in zip(inputs, weights, strict=True)]
    total = terms[0] if n == 1 else g.op("Sum", terms)
    if labels is None:
        g.op("Identity", [total], out="prediction")
        outputs = [tensor("prediction", "float", ["N"])]
    else:
        g.op("Identity", [total], out="probabilities")
        idx = g.op("ArgMax", ["probabilities"], axis=1, keepdims=0)
        const = _label_constant(labels)
        g.op("Gather", [g.const(const, "classes"), idx], out="label", axis=0)
        elem = helper.np_dtype_to_tensor_dtype(const.dtype) if const.dtype != object else 8
        outputs = [helper.make_tensor_value_info("label", elem, ["N"]), tensor("probabilities", "float", shape)]
    return g.model(inputs, outputs), [(name, i.name) for name, i in zip(names, inputs, strict=True)]
