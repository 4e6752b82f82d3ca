"""Pieces the network estimators share: label encoding, target scaling, validation split."""

from __future__ import annotations

from typing import Any

import numpy as np


def encode_labels(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Class indices 0..k-1 and the sorted original labels."""
    classes, idx = np.unique(np.asarray(y), return_inverse=True)
    return idx.astype(np.int64), classes


def validation_split(
    n: int, y: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Train and validation row indices; stratified when every class has two rows or more."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    if n < 50 or fraction <= 0:
        return idx, None
    stratify = y if y is not None and np.min(np.bincount(y)) >= 2 else None
    tr, va = train_test_split(idx, test_size=fraction, random_state=seed, stratify=stratify)
    return tr, va


def balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return len(y) / (n_classes * np.maximum(counts, 1.0))


def category_cardinalities(X: np.ndarray, n_categorical: int) -> list[int]:
    """Embedding sizes for the leading ordinal-code columns (code -1 = missing or unseen)."""
    return [int(np.nanmax(X[:, j])) + 2 if X.shape[0] else 2 for j in range(n_categorical)]


def prepare_target(est: Any, y: Any, classifier: bool) -> tuple[np.ndarray | None, np.ndarray]:
    """Set ``classes_`` (classification) or ``y_mean_``/``y_std_`` (regression) on ``est``.

    Returns the class indices (None for regression) and the target to train on: the indices, or
    the standardised values.
    """
    if classifier:
        idx, est.classes_ = encode_labels(y)
        return idx, idx
    yf = np.asarray(y, dtype=np.float64)
    est.y_mean_, est.y_std_ = float(yf.mean()), float(yf.std() or 1.0)
    return None, ((yf - est.y_mean_) / est.y_std_).astype(np.float32)


def target_meta(est: Any, classifier: bool) -> dict[str, Any]:
    """The fitted target facts, as JSON, for native persistence."""
    return {
        "classes": est.classes_.tolist() if classifier else None,
        "y_mean": getattr(est, "y_mean_", None),
        "y_std": getattr(est, "y_std_", None),
    }


def restore_target(est: Any, meta: dict[str, Any]) -> None:
    if meta["classes"] is not None:
        est.classes_ = np.asarray(meta["classes"])
    else:
        est.y_mean_, est.y_std_ = meta["y_mean"], meta["y_std"]


class ProbabilityOutputs:
    """``predict``/``predict_proba`` for Keras-style models: ``_raw`` gives class probabilities
    (a softmax, or one sigmoid unit) or standardised regression values."""

    _classifier: bool
    classes_: np.ndarray
    y_mean_: float
    y_std_: float

    def _raw(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:
        if self._classifier:
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return self._raw(X).reshape(-1) * self.y_std_ + self.y_mean_

    def predict_proba(self, X: Any) -> np.ndarray:
        out = self._raw(X)
        if out.shape[1] == 1:  # a single sigmoid unit
            out = np.hstack([1 - out, out])
        out = np.clip(out, 0.0, None)
        return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
