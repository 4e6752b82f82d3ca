"""What an adapter needs to know about a dataset: the task and the columns, grouped by how to encode them.

The recommender decides each column's kind; this small value type is how that decision reaches the
adapters without the adapters depending on the recommender (imports point one way only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class FeatureSpec:
    """The columns a model sees, grouped by how they are encoded, plus the task and data size."""

    task: Task
    n_rows: int
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    boolean: tuple[str, ...] = ()
    datetime: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    cardinality: dict[str, int] = field(default_factory=dict)
    n_classes: int = 0
    imbalance_ratio: float = 1.0

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the model reads, in a fixed order."""
        return self.categorical + self.numeric + self.boolean + self.datetime + self.text

    @property
    def n_features(self) -> int:
        return len(self.columns)


@dataclass(frozen=True)
class RankingFacts:
    """What an adapter's ranking rules read (:meth:`FrameworkAdapter.score_rules`): the data's shape
    and whether this machine's GPU serves the framework. The recommender builds it from its profiles."""

    n_rows: int
    #: Feature columns, at least 1 (so shares are defined).
    n_features: int
    #: Categorical and boolean columns.
    n_categorical: int = 0
    n_text: int = 0
    missing_ratio: float = 0.0
    #: Distinct values of each categorical column (booleans excluded).
    categorical_cardinalities: tuple[int, ...] = ()
    #: The framework can use a GPU here (a CUDA build and a visible GPU).
    gpu_usable: bool = False
    #: The data is large enough for a GPU to pay for its transfers (tree learners).
    gpu_pays: bool = False
    physical_cores: int = 1

    @property
    def categorical_share(self) -> float:
        return self.n_categorical / self.n_features

    def high_cardinality(self, above: int) -> int:
        """How many categorical columns have more than ``above`` distinct values."""
        return sum(n > above for n in self.categorical_cardinalities)
