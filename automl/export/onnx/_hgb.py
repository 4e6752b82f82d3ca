"""scikit-learn's histogram gradient boosting as an ONNX ``TreeEnsembleRegressor``, written here.

skl2onnx 1.20's converter ignores categorical splits (and, with onnx 1.23, fails to build its node
at all); here a categorical split becomes a chain of equality tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.export.onnx._errors import OnnxExportError
from automl.export.onnx._graph import PREFIX, Graph, flatten, tensor


def hgb_graph(hgb: Any, n_features: int, width: int | None) -> Any:
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
    g = Graph(PREFIX + "hgb/")
    raw = g.op("TreeEnsembleRegressor", [_hgb_inputs(g, hgb)], domain="ai.onnx.ml", n_targets=n_targets,
               aggregate_function="SUM", post_transform="NONE",
               base_values=[float(v) for v in np.ravel(hgb._baseline_prediction)], **attrs)
    if width is None:
        out = flatten(g, raw)
    elif n_targets == 1:
        p = g.op("Sigmoid", [raw])
        out = g.op("Concat", [g.op("Sub", [g.const(np.ones((1, 1), np.float32)), p]), p], axis=1)
    else:
        out = g.op("Softmax", [raw], axis=1)
    g.op("Identity", [out], out="scores")
    return g.model([tensor("features", "float", ["N", n_features])],
                   [tensor("scores", "float", ["N"] if width is None else ["N", width])])


def _hgb_inputs(g: Graph, hgb: Any) -> str:
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
