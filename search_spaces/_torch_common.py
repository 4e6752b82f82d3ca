"""What every torch tabular estimator shares: fit's set-up (budget, seed, threads, fitted facts),
predictions from the network's raw outputs, and its native files (``model.pt`` state dict +
``model.json``, loaded with ``weights_only=True``). The estimator gives ``_fit``, ``_raw``,
``_network``, ``_classifier`` and ``_native_classes``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from search_spaces._base import read_native_meta, save_native_dir
from search_spaces._budget import current_budget
from search_spaces._nn_common import (
    category_cardinalities,
    prepare_target,
    restore_target,
    target_meta,
    validation_split,
)


class TorchOutputs:
    """Predict and persist from ``network_``; mixed into the torch estimators before BaseEstimator."""

    def fit(self, X: Any, y: Any) -> Any:
        """Train within the current fit budget on ``n_jobs`` threads (restored afterwards); see ``_fit``."""
        budget = current_budget()
        X = np.asarray(X, dtype=np.float64)
        torch.manual_seed(self.random_state)
        device = torch.device(self.device)
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, self.n_jobs))
        try:
            self._fit(X, y, device, budget)
        finally:
            torch.set_num_threads(threads)
        return self

    def _fit_facts(self, X: np.ndarray, y: Any, device: torch.device) -> tuple[Any, torch.Tensor, Any, Any]:
        """Record the fitted facts (classes, widths, cardinalities); return the encoded target, it as a
        tensor on ``device``, and the training and validation rows."""
        target, y_fit = prepare_target(self, y, self._classifier)
        self.n_out_ = len(self.classes_) if self._classifier else 1
        y_t = torch.as_tensor(y_fit, dtype=torch.long if self._classifier else torch.float32, device=device)
        self.n_features_in_ = X.shape[1]
        self.cardinalities_ = category_cardinalities(X, self.n_categorical)
        self.n_numeric_ = X.shape[1] - self.n_categorical
        tr, va = validation_split(X.shape[0], target, self.validation_fraction, self.random_state)
        return target, y_t, tr, va

    def predict(self, X: Any) -> np.ndarray:
        if self._classifier:
            return self.classes_[np.argmax(self._raw(X), axis=1)]
        return self._raw(X)[:, 0] * self.y_std_ + self.y_mean_

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._raw(X)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    # -- native persistence ---------------------------------------------------------------------
    def save_native(self, directory: str | Path) -> None:
        """Write ``model.pt`` (the state dict, scaling buffers included) and ``model.json`` (fitted facts)."""

        def meta() -> dict[str, Any]:
            return {
                "params": self.get_params(),
                "n_features_in": self.n_features_in_,
                "n_numeric": self.n_numeric_,
                "cardinalities": self.cardinalities_,
                "n_out": self.n_out_,
                **target_meta(self, self._classifier),
            }

        def write(d: Path) -> None:
            torch.save(self.network_.state_dict(), d / "model.pt")

        save_native_dir(self, directory, "network_", write, meta)

    @classmethod
    def load_native(cls, directory: str | Path) -> Any:
        """Rebuild from :meth:`save_native` output; loads tensors only (``weights_only=True``)."""
        d, meta, target = read_native_meta(directory, cls._native_classes())
        est = target(**meta["params"])
        est.n_features_in_ = meta["n_features_in"]
        est.n_numeric_ = meta["n_numeric"]
        est.cardinalities_ = meta["cardinalities"]
        est.n_out_ = meta["n_out"]
        restore_target(est, meta)
        net = est._network()
        net.load_state_dict(torch.load(d / "model.pt", map_location="cpu", weights_only=True))
        est.network_ = net.eval()
        est.truncated_ = est.shortened_ = False
        return est
