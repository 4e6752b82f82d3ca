"""What the published tabular networks in PyTorch share: input layers, mixed precision, the training loop.

:class:`TorchTabular` is the scikit-learn estimator behind RealMLP and TabM (``_realmlp_model``,
``_tabm_model``): the leading ``n_categorical`` columns are ordinal codes, the rest numeric; the
network robust-scales and smoothly clips the numeric columns itself (buffers fitted on the
training rows, saved in the state dict). Training: AdamW with per-group learning-rate factors and a
per-step schedule over a horizon of ``max_epochs`` shortened to what the fit budget leaves room for,
early stopping on a validation split with the best epoch restored, one report per epoch (negated
validation loss: log loss, or RMSE in the target's units), the deadline checked between batches,
``n_jobs`` CPU threads, and mixed precision under ``torch.autocast`` (``amp="auto"``: bfloat16 on
a CUDA GPU that supports it, else float16 with a ``GradScaler``; none on the CPU unless asked).
Imported only when one of these networks is built.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from search_spaces._budget import FitBudget
from search_spaces._nn_common import (
    balanced_weights,
)
from search_spaces._torch_common import TorchOutputs

AMP_CHOICES = ("auto", "none", "bfloat16", "float16")


# -- input layers -------------------------------------------------------------------------------
class RobustScaleClip(nn.Module):
    """RealMLP's numeric preprocessing: ``(x - median) / IQR`` (``2 / (max - min)`` for a column
    whose quartiles coincide, 0 for a constant one), then the smooth clip ``x / sqrt(1 + (x/3)^2)``."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.register_buffer("center", torch.zeros(n))
        self.register_buffer("factor", torch.ones(n))

    def fit(self, x: np.ndarray) -> None:
        if x.shape[1] == 0 or x.shape[0] == 0:
            return
        q25, q50, q75 = np.quantile(x, [0.25, 0.5, 0.75], axis=0)
        spread = np.ptp(x, axis=0)
        iqr = q75 - q25
        factor = np.where(iqr > 0, 1.0 / np.where(iqr > 0, iqr, 1.0), 0.0)
        factor = np.where((iqr <= 0) & (spread > 0), 2.0 / np.where(spread > 0, spread, 1.0), factor)
        self.center.copy_(torch.as_tensor(q50, dtype=torch.float32))
        self.factor.copy_(torch.as_tensor(factor, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.center) * self.factor
        return z / torch.sqrt(1 + (z / 3) ** 2)


class PeriodicEmbedding(nn.Module):
    """RealMLP's PBLD numeric embedding: per feature, ``cos(2 pi w x + b)`` over ``n_freq``
    frequencies (``w ~ N(0, sigma^2)``), a per-feature linear map to ``d_out - 1`` values, and the
    raw value concatenated DenseNet-style; ``n * d_out`` outputs."""

    def __init__(self, n: int, n_freq: int = 16, d_out: int = 4, sigma: float = 0.1) -> None:
        super().__init__()
        self.freq = nn.Parameter(torch.randn(n, n_freq) * sigma)
        self.phase = nn.Parameter(torch.empty(n, n_freq).uniform_(-math.pi, math.pi))
        self.weight = nn.Parameter(torch.randn(n, n_freq, d_out - 1) / math.sqrt(n_freq))
        self.bias = nn.Parameter(torch.zeros(n, d_out - 1))
        self.width = n * d_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.cos(2 * math.pi * x.unsqueeze(-1) * self.freq + self.phase)
        z = torch.einsum("bnf,nfd->bnd", z, self.weight) + self.bias
        return torch.cat([x.unsqueeze(-1), z], dim=-1).flatten(1)


class CategoricalInputs(nn.Module):
    """One-hot codes for columns with at most ``onehot_max`` codes (missing included), learned
    embeddings of ``emb_dim`` for the others; code 0 is missing or unseen."""

    def __init__(self, cardinalities: list[int], onehot_max: int = 8, emb_dim: int = 8) -> None:
        super().__init__()
        self.onehot = [c <= onehot_max for c in cardinalities]
        for i, c in enumerate(cardinalities):
            if self.onehot[i]:
                self.register_buffer(f"eye{i}", torch.eye(c))
        self.embeddings = nn.ModuleDict(
            {str(i): nn.Embedding(c, emb_dim) for i, c in enumerate(cardinalities) if not self.onehot[i]}
        )
        self.width = sum(c if oh else emb_dim for c, oh in zip(cardinalities, self.onehot, strict=True))

    def forward(self, codes: torch.Tensor) -> list[torch.Tensor]:
        return [
            getattr(self, f"eye{i}")[codes[:, i]] if oh else self.embeddings[str(i)](codes[:, i])
            for i, oh in enumerate(self.onehot)
        ]


class TabularInputs(nn.Module):
    """Scaled (and optionally periodically embedded) numeric columns beside the categorical codes' encoding."""

    def __init__(self, n_numeric: int, cardinalities: list[int], embedding: bool, onehot_max: int = 8) -> None:
        super().__init__()
        self.scaler = RobustScaleClip(n_numeric)
        self.periodic = PeriodicEmbedding(n_numeric) if embedding and n_numeric else None
        self.cats = CategoricalInputs(cardinalities, onehot_max=onehot_max)
        numeric = self.periodic.width if self.periodic is not None else n_numeric
        self.width = numeric + self.cats.width

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        x = self.scaler(x_num)
        if self.periodic is not None:
            x = self.periodic(x)
        return torch.cat([x, *self.cats(x_cat)], dim=1)


# -- mixed precision ----------------------------------------------------------------------------
def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device`` (None: full precision)."""
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp must be one of {list(AMP_CHOICES)}, got {amp!r}")
    if amp == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"none": None, "bfloat16": torch.bfloat16, "float16": torch.float16}[amp]


def split_inputs(X: np.ndarray, k: int, cardinalities: list[int], device: torch.device) -> tuple[torch.Tensor, ...]:
    """Numeric values and category codes (shifted so that 0 is missing/unseen, capped at the largest seen)."""
    codes = np.clip(X[:, :k], -1, None) + 1 if k else np.zeros((X.shape[0], 0))
    if k:
        codes = np.minimum(codes, np.asarray(cardinalities) - 1)
    x_cat = torch.as_tensor(codes, dtype=torch.long, device=device)
    x_num = torch.as_tensor(X[:, k:], dtype=torch.float32, device=device)
    return x_num, x_cat


class _Loop:
    """The mutable state of one training run (kept off the estimator, which stores only results)."""

    def __init__(self, est: TorchTabular, net: nn.Module, device: torch.device, budget: FitBudget) -> None:
        self.net, self.device, self.budget = net, device, budget
        self.dtype = amp_dtype(est.amp, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)
        self.opt = torch.optim.AdamW(est._param_groups(net), lr=est.learning_rate, betas=est._betas)
        for group in self.opt.param_groups:
            group["base_lr"] = group["lr"]
        self.horizon = max(1, est.max_epochs)
        self.step = 0
        self.started = time.monotonic()
        #: Seconds per predicted row: measured on the validation passes (until then, a third of a
        #: training row's, forward only), so that the rows the caller predicts next fit the deadline.
        self.seconds_per_row = 0.0

    def expired(self) -> bool:
        return self.budget.expired(self.seconds_per_row)

    def autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None)

    def set_lr(self, factor: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = group["base_lr"] * factor

    def shorten_horizon(self, epochs_done: int) -> None:
        """Fit the schedule to the epochs the deadline leaves room for, at the pace so far."""
        if self.budget.deadline is None:
            return
        pace = (time.monotonic() - self.started) / epochs_done
        left = self.budget.seconds_left() - self.seconds_per_row * self.budget.predict_rows
        fits = epochs_done + int(max(0.0, left) / max(pace, 1e-9))
        self.horizon = max(epochs_done, min(self.horizon, fits))


class TorchTabular(TorchOutputs, BaseEstimator):
    """Shared fit/predict/persistence; subclasses give ``__init__``, ``_network`` and the hooks below."""

    #: The framework whose adapter builds this estimator (the ONNX export asks that adapter for a converter).
    framework = "torch"
    _classifier = False
    _betas: tuple[float, float] = (0.9, 0.999)
    n_categorical: int
    learning_rate: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int
    validation_fraction: float
    class_weight: str | None
    label_smoothing: float
    amp: str
    device: str
    n_jobs: int
    random_state: int

    # -- hooks ----------------------------------------------------------------------------------
    def _network(self) -> nn.Module:
        raise NotImplementedError

    def _param_groups(self, net: nn.Module) -> list[dict[str, Any]]:
        """Optimizer groups; by default weight decay on matrices only."""
        decay = [p for p in net.parameters() if p.ndim >= 2]
        rest = [p for p in net.parameters() if p.ndim < 2]
        return [{"params": decay, "weight_decay": self.weight_decay}, {"params": rest, "weight_decay": 0.0}]

    def _lr_factor(self, progress: float) -> float:
        """Learning-rate multiplier at ``progress`` in [0, 1] of the planned steps."""
        return 1.0

    def _outputs(self, net: nn.Module, xn: torch.Tensor, xc: torch.Tensor) -> torch.Tensor:
        """What the training loss is computed on (TabM: every member's output)."""
        return net(xn, xc)

    def _loss(self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
        if self._classifier:
            out = out.reshape(-1, out.shape[-1])
            y = y.repeat_interleave(out.shape[0] // y.shape[0])
            return nn.functional.cross_entropy(out, y, weight=weight, label_smoothing=self.label_smoothing)
        out = out.reshape(y.shape[0], -1)
        return nn.functional.mse_loss(out, y.unsqueeze(1).expand_as(out))

    @classmethod
    def _native_classes(cls) -> tuple[type, ...]:
        raise NotImplementedError

    # -- scikit-learn API -----------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: Any, device: torch.device, budget: FitBudget) -> None:
        target, y_t, tr, va = self._fit_facts(X, y, device)
        net = self._network()
        net.inputs.scaler.fit(X[tr, self.n_categorical :])
        net = net.to(device)
        xn, xc = split_inputs(X, self.n_categorical, self.cardinalities_, device)
        weight = None
        if self._classifier and self.class_weight == "balanced":
            weight = torch.as_tensor(balanced_weights(target, self.n_out_), dtype=torch.float32, device=device)
        loop = _Loop(self, net, device, budget)
        va_t = None if va is None else torch.as_tensor(va, device=device)
        data = (xn, xc, y_t, torch.as_tensor(tr, device=device), va_t)
        self._epochs(loop, data, weight)

    def _epochs(self, loop: _Loop, data: tuple[Any, ...], weight: torch.Tensor | None) -> None:
        xn, xc, y_t, tr_t, va_t = data
        gen = torch.Generator(device="cpu").manual_seed(self.random_state)
        best, best_state, bad, best_temperature = math.inf, None, 0, 1.0
        self.truncated_, self.shortened_, self.n_epochs_ = False, False, 0
        batch = max(1, min(self.batch_size, len(tr_t)))
        per_epoch = math.ceil(len(tr_t) / batch)
        for epoch in range(self.max_epochs):
            loop.net.train()
            order = tr_t[torch.randperm(len(tr_t), generator=gen).to(loop.device)]
            for b in range(0, len(order), batch):
                if loop.expired():
                    self.truncated_ = True
                    break
                loop.set_lr(self._lr_factor(min(1.0, loop.step / (loop.horizon * per_epoch))))
                idx = order[b : b + batch]
                self._step(loop, xn[idx], xc[idx], y_t[idx], weight)
                if not loop.seconds_per_row:
                    loop.seconds_per_row = (time.monotonic() - loop.started) / len(idx) / 3
            self.n_epochs_ = epoch + 1
            loop.shorten_horizon(epoch + 1)
            # A truncated epoch is not validated: that pass could overrun the deadline (TabM runs k
            # members on every validation row); the best epoch so far (else these weights) is kept.
            if va_t is not None and not self.truncated_:
                started = time.monotonic()
                val, temperature = self._val_loss(loop, xn[va_t], xc[va_t], y_t[va_t])
                loop.seconds_per_row = (time.monotonic() - started) / max(1, len(va_t))
                if not math.isfinite(val):
                    raise FloatingPointError(f"validation loss is {val} after epoch {epoch + 1}")
                if val < best - 1e-6:
                    best, best_state, bad = val, copy.deepcopy(loop.net.state_dict()), 0
                    best_temperature = temperature
                else:
                    bad += 1
                loop.budget.emit(epoch + 1, -val)
            if epoch + 1 >= loop.horizon and loop.horizon < self.max_epochs:
                # The deadline leaves no room for another epoch at this pace: the schedule, fitted to
                # the epochs that fit, has ended. A complete fit (not cut short), but a shorter one.
                self.shortened_ = True
            if self.truncated_ or bad >= self.patience or epoch + 1 >= loop.horizon:
                break
        if best_state is not None:
            loop.net.load_state_dict(best_state)
        loop.net.temperature.fill_(best_temperature)
        self.temperature_ = best_temperature
        self.best_validation_loss_ = best
        self.network_ = loop.net.eval()

    def _step(self, loop: _Loop, xn: torch.Tensor, xc: torch.Tensor, y: torch.Tensor, weight: Any) -> None:
        with loop.autocast():
            out = self._outputs(loop.net, xn, xc)
        loss = self._loss(out.float(), y, weight)
        loop.opt.zero_grad(set_to_none=True)
        loop.scaler.scale(loss).backward()
        loop.scaler.step(loop.opt)
        loop.scaler.update()
        loop.step += 1

    def _val_loss(self, loop: _Loop, xn: torch.Tensor, xc: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """The validation loss and, for a classifier trained with label smoothing (which leaves its
        probabilities too flat), the temperature in [0.1, 10] that minimises it (post-hoc scaling)."""
        loop.net.eval()
        with torch.no_grad():
            out = self._forward_batches(loop.net, xn, xc, loop.autocast)
        if not self._classifier:
            return float(torch.sqrt(nn.functional.mse_loss(out[:, 0], y)).item() * self.y_std_), 1.0
        if self.label_smoothing <= 0:
            return float(nn.functional.cross_entropy(out, y).item()), 1.0
        temperatures = torch.exp(torch.linspace(math.log(0.1), math.log(10.0), 61))
        losses = [float(nn.functional.cross_entropy(out / t, y).item()) for t in temperatures]
        best = int(np.nanargmin(losses)) if any(math.isfinite(v) for v in losses) else 30
        return losses[best], float(temperatures[best])

    def _forward_batches(self, net: nn.Module, xn: torch.Tensor, xc: torch.Tensor, autocast: Any) -> torch.Tensor:
        outs = []
        for b in range(0, xn.shape[0], 4096):
            with autocast():
                outs.append(net(xn[b : b + 4096], xc[b : b + 4096]).float())
        return torch.cat(outs) if outs else torch.zeros((0, self.n_out_), device=xn.device)

    def _raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = np.asarray(X, dtype=np.float64)
        device = next(self.network_.parameters()).device
        xn, xc = split_inputs(X, self.n_categorical, self.cardinalities_, device)
        dtype = amp_dtype(self.amp, device)
        with torch.no_grad():
            out = self._forward_batches(
                self.network_, xn, xc, lambda: torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
            )
        return out.cpu().numpy().astype(np.float64)
