"""TabM in PyTorch, written from the paper; imported only when one is built.

Gorishniy, Kotelnikov and Babenko, "TabM: Advancing tabular deep learning with parameter-efficient
ensembling", ICLR 2025. ``k`` members share one MLP (``n_blocks`` of ``d_block`` units, ReLU,
dropout) and differ by BatchEnsemble multiplicative adapters: ``arch="tabm-mini"`` scales the input
of the first layer by one vector per member (initialised with random signs) and shares every
weight matrix; ``arch="tabm"`` makes every layer a BatchEnsemble layer ``((x * r_i) W) * s_i + b_i``.
Each member has its own head. All members see the same batch and the training loss is the mean of
their losses; the prediction is the mean of their probabilities (classification: the network
returns ``log mean_i softmax(out_i)``, so a softmax of its output is that mean) or of their values
(regression). Numeric columns are robust-scaled and smoothly clipped (as in RealMLP; the paper
uses a quantile transform) and, with ``embedding="periodic"``, embedded like RealMLP's PBLD (the
paper's best variant uses piecewise-linear embeddings). The authors' ``tabm`` package was not used:
it brings ``rtdl_num_embeddings`` with a pinned range for what is about 200 lines here.
"""

from __future__ import annotations

import math

import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from torch import nn

from search_spaces._torch_tabular import TabularInputs, TorchTabular

ARCHS = ("tabm-mini", "tabm")
EMBEDDINGS = ("none", "periodic")


def _random_signs(k: int, d: int) -> torch.Tensor:
    return torch.randint(0, 2, (k, d)).float() * 2 - 1


class BatchEnsembleLinear(nn.Module):
    """One shared weight matrix with per-member input (``r``) and output (``s``) scales and biases."""

    def __init__(self, k: int, d_in: int, d_out: int, *, first: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out, bias=False)
        self.r = nn.Parameter(_random_signs(k, d_in) if first else torch.ones(k, d_in))
        self.s = nn.Parameter(torch.ones(k, d_out))
        bound = 1 / math.sqrt(d_in)
        self.bias = nn.Parameter(torch.empty(k, d_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, k, d_in) -> (B, k, d_out)
        return self.linear(x * self.r) * self.s + self.bias


class EnsembleHead(nn.Module):
    """``k`` independent linear heads, one per member."""

    def __init__(self, k: int, d_in: int, d_out: int) -> None:
        super().__init__()
        bound = 1 / math.sqrt(d_in)
        self.weight = nn.Parameter(torch.empty(k, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, d_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, k, d_in) -> (B, k, d_out)
        return torch.einsum("bki,kio->bko", x, self.weight) + self.bias


class TabMNet(nn.Module):
    """``members`` gives every member's output ``(B, k, n_out)``; ``forward`` their combination."""

    def __init__(
        self, n_numeric: int, cardinalities: list[int], n_out: int, *, k: int, n_blocks: int, d_block: int,
        dropout: float, arch: str, embedding: str, classification: bool,
    ) -> None:
        super().__init__()
        self.k, self.arch, self.classification = k, arch, classification
        self.inputs = TabularInputs(n_numeric, cardinalities, embedding=embedding == "periodic", onehot_max=32)
        width = self.inputs.width
        if arch == "tabm-mini":
            self.adapter = nn.Parameter(_random_signs(k, width))
        layers: list[nn.Module] = []
        for i in range(n_blocks):
            linear = nn.Linear(width, d_block) if arch == "tabm-mini" else BatchEnsembleLinear(
                k, width, d_block, first=i == 0
            )
            layers += [linear, nn.ReLU(), nn.Dropout(dropout)]
            width = d_block
        self.body = nn.Sequential(*layers)
        self.head = EnsembleHead(k, width, n_out)
        #: Divides the combined classification output (post-hoc temperature scaling; 1 unless label smoothing).
        self.register_buffer("temperature", torch.ones(()))

    def members(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        x = self.inputs(x_num, x_cat).unsqueeze(1).expand(-1, self.k, -1)
        if self.arch == "tabm-mini":
            x = x * self.adapter
        return self.head(self.body(x))

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        out = self.members(x_num, x_cat).float()
        if self.classification:
            return (torch.logsumexp(torch.log_softmax(out, dim=-1), dim=1) - math.log(self.k)) / self.temperature
        return out.mean(dim=1)


class _TabM(TorchTabular):
    def __init__(
        self,
        n_categorical: int = 0,
        k: int = 32,
        n_blocks: int = 3,
        d_block: int = 512,
        dropout: float = 0.1,
        arch: str = "tabm-mini",
        embedding: str = "periodic",
        learning_rate: float = 2e-3,
        weight_decay: float = 3e-4,
        label_smoothing: float = 0.0,
        batch_size: int = 256,
        max_epochs: int = 200,
        patience: int = 16,
        validation_fraction: float = 0.15,
        class_weight: str | None = None,
        amp: str = "auto",
        device: str = "cpu",
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_categorical = n_categorical
        self.k = k
        self.n_blocks = n_blocks
        self.d_block = d_block
        self.dropout = dropout
        self.arch = arch
        self.embedding = embedding
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
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

    def _network(self) -> TabMNet:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {list(ARCHS)}, got {self.arch!r}")
        if self.embedding not in EMBEDDINGS:
            raise ValueError(f"embedding must be one of {list(EMBEDDINGS)}, got {self.embedding!r}")
        if self.k < 1:
            raise ValueError(f"k (ensemble members) must be at least 1, got {self.k!r}")
        return TabMNet(
            self.n_numeric_, self.cardinalities_, self.n_out_, k=self.k, n_blocks=self.n_blocks,
            d_block=self.d_block, dropout=self.dropout, arch=self.arch, embedding=self.embedding,
            classification=self._classifier,
        )

    def _outputs(self, net: nn.Module, xn: torch.Tensor, xc: torch.Tensor) -> torch.Tensor:
        """Every member's output: the loss is the mean of the members' losses."""
        return net.members(xn, xc)

    @classmethod
    def _native_classes(cls) -> tuple[type, ...]:
        return (TabMClassifier, TabMRegressor)


class TabMClassifier(ClassifierMixin, _TabM):
    _classifier = True


class TabMRegressor(RegressorMixin, _TabM):
    _classifier = False
