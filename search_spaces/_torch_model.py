"""A tabular MLP in PyTorch behind the scikit-learn contract; imported only when one is built.

Categorical columns (the leading ``n_categorical`` ordinal codes) go through embeddings; numeric
columns arrive standardised. AdamW with a cosine learning-rate schedule, early stopping on a
validation split, one intermediate score per epoch (negated validation loss: log loss, or RMSE in
the target's units), the deadline checked between batches, bf16 autocast on CUDA.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from search_spaces._nn_common import (
    balanced_weights,
)
from search_spaces._torch_common import TorchOutputs


def _embedding_dim(cardinality: int) -> int:
    return int(min(16, max(2, round(1.6 * cardinality**0.56))))


class TabularNet(nn.Module):
    """Embeddings for categorical codes, concatenated with numeric inputs, then an MLP."""

    def __init__(
        self, n_numeric: int, cardinalities: list[int], hidden: int, n_layers: int, dropout: float, n_out: int
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(c, _embedding_dim(c)) for c in cardinalities)
        width = n_numeric + sum(_embedding_dim(c) for c in cardinalities)
        layers: list[nn.Module] = []
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU(), nn.Dropout(dropout)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_out)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [x_num] + [emb(x_cat[:, i]) for i, emb in enumerate(self.embeddings)]
        return self.head(self.body(torch.cat(parts, dim=1)))


class _TorchMLP(TorchOutputs, BaseEstimator):
    #: The framework whose adapter builds this estimator (the ONNX export asks that adapter for a converter).
    framework = "torch"
    _classifier = False

    def __init__(
        self,
        n_categorical: int = 0,
        hidden_units: int = 128,
        n_layers: int = 2,
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 128,
        max_epochs: int = 100,
        patience: int = 8,
        validation_fraction: float = 0.15,
        class_weight: str | None = None,
        device: str = "cpu",
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_categorical = n_categorical
        self.hidden_units = hidden_units
        self.n_layers = n_layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- helpers ------------------------------------------------------------------------------
    def _split_inputs(self, X: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.n_categorical
        codes = np.clip(X[:, :k], -1, None) + 1 if k else np.zeros((X.shape[0], 0))
        if k:
            codes = np.minimum(codes, np.asarray(self.cardinalities_) - 1)
        x_cat = torch.as_tensor(codes, dtype=torch.long, device=device)
        x_num = torch.as_tensor(X[:, k:], dtype=torch.float32, device=device)
        return x_num, x_cat

    def _network(self) -> TabularNet:
        return TabularNet(
            self.n_numeric_, self.cardinalities_, self.hidden_units, self.n_layers, self.dropout, self.n_out_
        )

    def _autocast(self, device: torch.device) -> Any:
        if device.type == "cuda":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return torch.autocast(device_type="cpu", enabled=False)

    def _val_loss(self, net: TabularNet, xn: torch.Tensor, xc: torch.Tensor, y: torch.Tensor) -> float:
        net.eval()
        with torch.no_grad():
            out = self._forward_batches(net, xn, xc)
            if self._classifier:
                return float(nn.functional.cross_entropy(out, y).item())
            return float(torch.sqrt(nn.functional.mse_loss(out.squeeze(1), y)).item() * self.y_std_)

    def _forward_batches(self, net: TabularNet, xn: torch.Tensor, xc: torch.Tensor) -> torch.Tensor:
        outs = []
        device = xn.device
        for b in range(0, xn.shape[0], 4096):
            with self._autocast(device):
                outs.append(net(xn[b : b + 4096], xc[b : b + 4096]).float())
        return torch.cat(outs) if outs else torch.zeros((0, self.n_out_), device=device)

    # -- scikit-learn API ---------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: Any, device: torch.device, budget: Any) -> None:
        target, y_t, tr, va = self._fit_facts(X, y, device)
        xn, xc = self._split_inputs(X, device)
        net = self._network().to(device)
        opt = torch.optim.AdamW(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.max_epochs))
        weight = None
        if self._classifier and self.class_weight == "balanced":
            weight = torch.as_tensor(balanced_weights(target, self.n_out_), dtype=torch.float32, device=device)
        tr_t = torch.as_tensor(tr, device=device)
        gen = torch.Generator(device="cpu").manual_seed(self.random_state)
        best, best_state, bad = math.inf, None, 0
        stepped = False
        self.truncated_ = False
        self.n_epochs_ = 0
        for epoch in range(self.max_epochs):
            net.train()
            order = tr_t[torch.randperm(len(tr), generator=gen).to(device)]
            for b in range(0, len(order), self.batch_size):
                if budget.expired():
                    self.truncated_ = True
                    break
                idx = order[b : b + self.batch_size]
                with self._autocast(device):
                    out = net(xn[idx], xc[idx]).float()
                if self._classifier:
                    loss = nn.functional.cross_entropy(out, y_t[idx], weight=weight)
                else:
                    loss = nn.functional.mse_loss(out.squeeze(1), y_t[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                stepped = True
            if stepped:
                sched.step()
            self.n_epochs_ = epoch + 1
            if va is None:
                if self.truncated_:
                    break
                continue
            va_t = torch.as_tensor(va, device=device)
            val = self._val_loss(net, xn[va_t], xc[va_t], y_t[va_t])
            if not math.isfinite(val):
                raise FloatingPointError(f"validation loss is {val} after epoch {epoch + 1}")
            if val < best - 1e-6:
                best, best_state, bad = val, copy.deepcopy(net.state_dict()), 0
            else:
                bad += 1
            budget.emit(epoch + 1, -val)
            if self.truncated_ or bad >= self.patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.best_validation_loss_ = best
        self.network_ = net.eval()

    def _raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = np.asarray(X, dtype=np.float64)
        device = next(self.network_.parameters()).device
        xn, xc = self._split_inputs(X, device)
        with torch.no_grad():
            return self._forward_batches(self.network_, xn, xc).cpu().numpy().astype(np.float64)

    @classmethod
    def _native_classes(cls) -> tuple[type, ...]:
        return (TorchMLPClassifier, TorchMLPRegressor)


class TorchMLPClassifier(ClassifierMixin, _TorchMLP):
    _classifier = True


class TorchMLPRegressor(RegressorMixin, _TorchMLP):
    _classifier = False
