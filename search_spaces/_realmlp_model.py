"""RealMLP in PyTorch, written from the paper; imported only when one is built.

Holzmüller, Grinsztajn and Steinwart, "Better by default: strong pre-tuned MLPs and boosted trees on
tabular data", NeurIPS 2024 (RealMLP-TD). What is kept from the paper: robust scaling with smooth
clipping of numeric columns, PBLD periodic numeric embeddings, one-hot codes for categorical
columns with at most 8 codes (embeddings of 8 for larger ones), a learnable per-input scaling
layer (learning-rate factor 6), three layers of 256 in the neural-tangent parametrisation (weights
``N(0, 1)`` scaled by ``1/sqrt(fan_in)`` in the forward pass, which is what makes the paper's
learning rate of 0.04 sensible), parametric activations ``x + a (f(x) - x)`` (SELU for
classification, Mish for regression; ``a`` and the biases at learning-rate factor 0.1), AdamW with
betas (0.9, 0.95), the ``coslog4`` schedule, label smoothing 0.1 (followed by temperature scaling
on the validation split, so that log loss does not suffer from it), batches of 256 and 256 epochs,
the best epoch on the validation split kept. Left out: the data-dependent bias initialisation and
the dropout schedule (dropout is constant). The authors' ``pytabkit`` package was not used because
it pulls in pytorch-lightning and torchmetrics for what is a few hundred lines of torch.
"""

from __future__ import annotations

import math

import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from torch import nn

from search_spaces._torch_tabular import TabularInputs, TorchTabular

SCHEDULES = ("coslog4", "flat_cos", "constant")


class NTPLinear(nn.Module):
    """A linear layer in the neural-tangent parametrisation: ``x (W / sqrt(fan_in))^T + b``, ``W ~ N(0, 1)``."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in))
        self.bias = nn.Parameter(torch.zeros(d_out))
        self.scale = 1.0 / math.sqrt(max(1, d_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.scale, self.bias)


class ParametricActivation(nn.Module):
    """``x + a (f(x) - x)`` with one learnable ``a`` per unit, starting at 1 (plain ``f``)."""

    def __init__(self, width: int, kind: str) -> None:
        super().__init__()
        self.f = nn.SELU() if kind == "selu" else nn.Mish()
        self.alpha = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.alpha * (self.f(x) - x)


class RealMLPNet(nn.Module):
    """Inputs (scaled, embedded), a scaling layer, ``n_layers`` NTP layers with parametric activations, a head."""

    def __init__(
        self, n_numeric: int, cardinalities: list[int], n_out: int, *, hidden: int, n_layers: int,
        dropout: float, activation: str, embedding: bool,
    ) -> None:
        super().__init__()
        self.inputs = TabularInputs(n_numeric, cardinalities, embedding=embedding)
        width = self.inputs.width
        self.front_scale = nn.Parameter(torch.ones(width))
        layers: list[nn.Module] = []
        for _ in range(n_layers):
            layers += [NTPLinear(width, hidden), ParametricActivation(hidden, activation), nn.Dropout(dropout)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = NTPLinear(width, n_out)
        #: Divides the outputs (classification: post-hoc temperature scaling, set after training).
        self.register_buffer("temperature", torch.ones(()))

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.inputs(x_num, x_cat) * self.front_scale)) / self.temperature


def coslog4(progress: float) -> float:
    """Four cosine cycles, evenly spaced in log time: ``(1 - cos(2 pi log2(1 + 15 t))) / 2``."""
    return 0.5 * (1.0 - math.cos(2.0 * math.pi * math.log2(1.0 + 15.0 * progress)))


def flat_cos(progress: float) -> float:
    """Flat for the first half, then a cosine decay to 0."""
    return 1.0 if progress < 0.5 else 0.5 * (1.0 + math.cos(math.pi * (2.0 * progress - 1.0)))


class _RealMLP(TorchTabular):
    _betas = (0.9, 0.95)

    def __init__(
        self,
        n_categorical: int = 0,
        hidden_units: int = 256,
        n_layers: int = 3,
        dropout: float = 0.15,
        activation: str | None = None,
        embedding: bool = True,
        learning_rate: float = 0.04,
        weight_decay: float = 0.0,
        schedule: str = "coslog4",
        label_smoothing: float = 0.1,
        batch_size: int = 256,
        max_epochs: int = 256,
        patience: int = 64,
        validation_fraction: float = 0.15,
        class_weight: str | None = None,
        amp: str = "auto",
        device: str = "cpu",
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_categorical = n_categorical
        self.hidden_units = hidden_units
        self.n_layers = n_layers
        self.dropout = dropout
        self.activation = activation
        self.embedding = embedding
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.label_smoothing = label_smoothing
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.amp = amp
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _network(self) -> RealMLPNet:
        activation = self.activation or ("selu" if self._classifier else "mish")
        if activation not in ("selu", "mish"):
            raise ValueError(f"activation must be 'selu', 'mish' or None, got {activation!r}")
        return RealMLPNet(
            self.n_numeric_, self.cardinalities_, self.n_out_, hidden=self.hidden_units, n_layers=self.n_layers,
            dropout=self.dropout, activation=activation, embedding=self.embedding,
        )

    def _param_groups(self, net: nn.Module) -> list[dict]:
        """The paper's learning-rate factors: 6 for the scaling layer, 0.1 for biases and activations."""
        lr = self.learning_rate
        groups: dict[str, list] = {"scale": [], "small": [], "weights": []}
        for name, p in net.named_parameters():
            if name == "front_scale":
                groups["scale"].append(p)
            elif name.endswith(("bias", "alpha")) and not name.startswith("inputs."):
                groups["small"].append(p)
            else:
                groups["weights"].append(p)
        return [
            {"params": groups["weights"], "lr": lr, "weight_decay": self.weight_decay},
            {"params": groups["scale"], "lr": 6 * lr, "weight_decay": 0.0},
            {"params": groups["small"], "lr": 0.1 * lr, "weight_decay": 0.0},
        ]

    def _lr_factor(self, progress: float) -> float:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        if self.schedule == "coslog4":
            return coslog4(progress)
        return flat_cos(progress) if self.schedule == "flat_cos" else 1.0

    @classmethod
    def _native_classes(cls) -> tuple[type, ...]:
        return (RealMLPClassifier, RealMLPRegressor)


class RealMLPClassifier(ClassifierMixin, _RealMLP):
    _classifier = True


class RealMLPRegressor(RegressorMixin, _RealMLP):
    _classifier = False
