"""Small ONNX helpers: a graph under construction, and joining converters' models into one.

Every part is written at one default-domain opset (:data:`OPSET`), because ``onnx.compose``
cannot join models of different opsets; internal tensor names start with :data:`PREFIX`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: Default-domain opset every part is exported with (onnx.compose cannot join different ones).
OPSET = 18
#: ``ai.onnx.ml`` opset: TreeEnsembleRegressor v3, LabelEncoder v2.
ML_OPSET = 3
INSTALL_HINT = "pip install 'automl-recommender[onnx]'"
#: Internal tensor names start with this, so they cannot clash with a feature column.
PREFIX = "_automl/"


def require(module: str, package: str | None = None, hint: str = INSTALL_HINT) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"ONNX export needs the {package or module} package: {hint}") from e


class Graph:
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


def tensor(name: str, kind: str, shape: Sequence[Any]) -> Any:
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


def merge(first: Any, second: Any, io_map: list[tuple[str, str]]) -> Any:
    from onnx import compose

    _align([first, second])
    merged = compose.merge_models(first, second, io_map=io_map, producer_name="automl-recommender")
    unique = {(e.domain, e.version): e for e in merged.opset_import}  # merge_models lists both models' entries
    del merged.opset_import[:]
    merged.opset_import.extend(unique.values())
    return merged


def union(models: Sequence[Any]) -> Any:
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


def as_scores(model: Any, x_name: str, y_name: str, tail: Callable[[Graph, str], str], width: int | None) -> Any:
    """A converter's model reshaped to the common form: input ``features``, one output ``scores``.

    ``tail`` appends the nodes from the converter's output ``y_name`` to the scores: probabilities
    [N, n_classes] (``width``) or regression values [N] (``width`` None).
    """
    g = Graph(PREFIX + "tail/")
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
    graph.output.append(tensor("scores", "float", ["N"] if width is None else ["N", width]))
    _prune(graph)
    return model


def flatten(g: Graph, name: str) -> str:
    return g.op("Reshape", [name, g.const(np.array([-1], dtype=np.int64), "shape")])


def proba_tail(width: int | None) -> Callable[[Graph, str], str]:
    """The tail for a converter whose output already is the scores: flattened for regression."""
    return (lambda g, y: flatten(g, y)) if width is None else (lambda g, y: y)
