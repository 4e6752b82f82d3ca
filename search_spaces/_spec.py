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
