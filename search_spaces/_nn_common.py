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
