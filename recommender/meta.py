"""Meta-features: the numbers a learned recommender reads from a dataset profile.

:func:`meta_features` is what ``benchmarks/metadata.py`` records for every dataset of the
meta-dataset; :func:`feature_vector` turns it into the model's inputs (log scales, shares, task).
Both run at recommendation time on the user's profile, so training and use see the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from recommender.cost import encoded_width
from recommender.profile import DatasetProfile

#: The learned models' inputs, in order.
FEATURES = (
    "log_rows", "log_features", "log_width", "rows_per_feature", "missing", "categorical_share",
    "low_cardinality_share", "log_classes", "binary", "multiclass", "regression", "log_imbalance",
    "log_cardinality_max",
)


def meta_features(profile: DatasetProfile) -> dict[str, Any]:
    """The numeric parts of a dataset profile, flat."""
    kinds = profile.kind_counts()
    used = [c for c in profile.columns if c.action != "drop"]
    cat = [c.n_unique for c in used if c.kind in ("categorical", "boolean")]
    num = [c.n_unique for c in used if c.kind == "numeric"]
    counts = sorted(profile.class_counts.values())
    out: dict[str, Any] = {
        "n_rows": profile.n_rows, "n_features": profile.n_features, "n_used_features": len(used),
        "missing_ratio": round(profile.missing_ratio, 6),
        "columns_with_missing": sum(c.missing_ratio > 0 for c in profile.columns),
        "memory_mb": round(profile.memory_mb, 4), "encoded_width": round(encoded_width(profile), 2),
        "n_classes": profile.n_classes, "imbalance_ratio": round(profile.imbalance_ratio, 4),
        "minority_class_share": round(counts[0] / sum(counts), 6) if counts else None,
        "cardinality_max": max(cat, default=0), "cardinality_mean": round(float(np.mean(cat)), 3) if cat else 0.0,
        "numeric_unique_median": float(np.median(num)) if num else 0.0,
        "numeric_low_cardinality": sum(u <= 10 for u in num),
    }
    for kind in ("numeric", "categorical", "boolean", "datetime", "text", "identifier", "constant", "empty"):
        out[f"n_{kind}"] = kinds.get(kind, 0)
    return out


def feature_vector(meta: dict[str, Any], task: str, rows: float | None = None) -> np.ndarray:
    """The model inputs (:data:`FEATURES`) for a dataset's meta-features; ``rows`` overrides n_rows
    (the rows a fit actually sees, e.g. a fold's training rows)."""
    n_rows = float(rows if rows is not None else meta["n_rows"])
    used = max(float(meta.get("n_used_features") or meta.get("n_features") or 1), 1.0)
    n_numeric = float(meta.get("n_numeric", 0))
    categorical = float(meta.get("n_categorical", 0)) + float(meta.get("n_boolean", 0))
    classes = float(meta.get("n_classes") or 0)
    log_rows = math.log10(max(n_rows, 1.0))
    log_features = math.log10(used)
    values = {
        "log_rows": log_rows,
        "log_features": log_features,
        "log_width": math.log10(max(float(meta.get("encoded_width") or used), 1.0)),
        "rows_per_feature": log_rows - log_features,
        "missing": float(meta.get("missing_ratio") or 0.0),
        "categorical_share": categorical / used,
        "low_cardinality_share": float(meta.get("numeric_low_cardinality", 0)) / max(n_numeric, 1.0),
        "log_classes": math.log2(classes) if classes >= 2 else 0.0,
        "binary": float(task == "binary"),
        "multiclass": float(task == "multiclass"),
        "regression": float(task == "regression"),
        "log_imbalance": math.log10(max(float(meta.get("imbalance_ratio") or 1.0), 1.0)),
        "log_cardinality_max": math.log10(1.0 + float(meta.get("cardinality_max") or 0)),
    }
    return np.array([values[f] for f in FEATURES], dtype=np.float64)
