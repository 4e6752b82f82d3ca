"""Dataset profiling: what the data is, column by column, and what the models will do with it.

Fast on large frames: missing counts are exact (vectorised), cardinality and kind inference read a
uniform row sample of at most ``SAMPLE_ROWS`` rows, and say so (``approximate=True``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from search_spaces import FeatureSpec, Task

ColumnKind = Literal[
    "numeric", "categorical", "boolean", "datetime", "text", "identifier", "constant", "empty"
]
SAMPLE_ROWS = 100_000
#: A string column with at least this mean length and mostly several words is free text.
TEXT_MIN_MEAN_LENGTH = 25
#: Integer-valued numeric targets with at most this many distinct values are classes.
MAX_CLASSES_NUMERIC_TARGET = 20
_ID_NAME = re.compile(r"(^|[_\W])(id|uuid|guid|key|index)$|^id[_\W]", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnProfile:
    """One feature column: its kind, missing ratio, cardinality and what the models do with it."""

    name: str
    dtype: str
    kind: ColumnKind
    missing_ratio: float
    n_unique: int
    action: str
    reason: str


@dataclass(frozen=True)
class DatasetProfile:
    """Everything the recommender and the adapters need to know about a dataset."""

    target: str
    task: Task
    task_reason: str
    n_rows: int
    n_features: int
    columns: tuple[ColumnProfile, ...]
    missing_ratio: float
    memory_mb: float
    approximate: bool
    class_counts: dict[str, int] = field(default_factory=dict)
    imbalance_ratio: float = 1.0

    @property
    def n_classes(self) -> int:
        return len(self.class_counts)

    def kind_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.columns:
            counts[c.kind] = counts.get(c.kind, 0) + 1
        return counts

    def columns_of(self, *kinds: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind in kinds)

    @property
    def dropped(self) -> dict[str, str]:
        return {c.name: c.reason for c in self.columns if c.action == "drop"}

    def feature_spec(self) -> FeatureSpec:
        """The adapters' view of this profile: columns grouped by how they are encoded."""
        return FeatureSpec(
            task=self.task,
            n_rows=self.n_rows,
            numeric=self.columns_of("numeric"),
            categorical=self.columns_of("categorical"),
            boolean=self.columns_of("boolean"),
            datetime=self.columns_of("datetime"),
            text=self.columns_of("text"),
            cardinality={c.name: c.n_unique for c in self.columns},
            n_classes=self.n_classes,
            imbalance_ratio=self.imbalance_ratio,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["columns"] = [asdict(c) for c in self.columns]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetProfile:
        """Inverse of :meth:`to_dict` (used when a saved run is loaded)."""
        fields = dict(d)
        fields["columns"] = tuple(ColumnProfile(**c) for c in d["columns"])
        return cls(**fields)

    def columns_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.columns])

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.kind_counts().items()))
        lines = [
            f"{self.n_rows:,} rows x {self.n_features} features ({kinds}); "
            f"{self.missing_ratio:.1%} cells missing; ~{self.memory_mb:,.1f} MB in memory"
            + (" (cardinalities estimated on a sample)" if self.approximate else ""),
            f"target {self.target!r}: {self.task} ({self.task_reason})",
        ]
        if self.class_counts:
            top = ", ".join(f"{k}: {v:,}" for k, v in list(self.class_counts.items())[:10])
            lines.append(f"classes: {top}; imbalance ratio {self.imbalance_ratio:.1f}")
        for name, reason in self.dropped.items():
            lines.append(f"dropped {name!r}: {reason}")
        for c in self.columns:
            if c.kind in ("datetime", "text"):
                lines.append(f"{c.name!r}: {c.action} ({c.reason})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (
            "<div><b>Dataset profile</b><pre>"
            + _escape(self.summary())
            + "</pre>"
            + self.columns_frame().to_html(index=False)
            + "</div>"
        )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _is_integral(values: pd.Series) -> bool:
    v = values.to_numpy(dtype=np.float64, na_value=np.nan)
    v = v[np.isfinite(v)]
    return bool(v.size) and bool(np.all(np.floor(v) == v))


def _looks_like_datetime(sample: pd.Series) -> bool:
    values = sample.dropna().astype(str).head(200)
    if values.empty or not values.str.contains(r"\d", regex=True).all():
        return False
    if not values.str.contains(r"[-/:]", regex=True).mean() >= 0.9:
        return False
    parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().mean() >= 0.9)


def _column_profile(name: str, full: pd.Series, sample: pd.Series, n_rows: int) -> ColumnProfile:
    missing = float(full.isna().mean()) if n_rows else 0.0
    non_null = sample.dropna()
    n_unique = int(non_null.nunique())
    dtype = str(full.dtype)
    label = str(name)

    def col(kind: ColumnKind, action: str, reason: str) -> ColumnProfile:
        return ColumnProfile(label, dtype, kind, round(missing, 6), n_unique, action, reason)

    if non_null.empty:
        return col("empty", "drop", "every value is missing")
    if n_unique == 1:
        return col("constant", "drop", f"one value only ({non_null.iloc[0]!r}): carries no signal")
    if pd.api.types.is_bool_dtype(full) or n_unique == 2:
        return col("boolean", "encode", "two values: encoded as one indicator")
    if pd.api.types.is_datetime64_any_dtype(full):
        return col("datetime", "expand", "datetime: expanded to year, month, day, weekday, hour, epoch")
    unique_ratio = n_unique / max(len(non_null), 1)
    if pd.api.types.is_numeric_dtype(full):
        if (
            pd.api.types.is_integer_dtype(full)
            and unique_ratio >= 0.999
            and len(non_null) >= 50
            and (_ID_NAME.search(label) or full.dropna().is_monotonic_increasing)
        ):
            return col("identifier", "drop", "unique integer per row (identifier-like): would only memorise rows")
        return col("numeric", "use", "numeric")
    if isinstance(full.dtype, pd.CategoricalDtype):
        return col("categorical", "encode", f"categorical with {n_unique} levels")
    strings = non_null.astype(str)
    if _looks_like_datetime(strings):
        return col("datetime", "expand", "date-like strings: expanded to year, month, day, weekday, hour, epoch")
    mean_len = float(strings.str.len().mean())
    words = float(strings.str.count(r"\s+").mean())
    if mean_len >= TEXT_MIN_MEAN_LENGTH and words >= 2 and unique_ratio > 0.3:
        return col("text", "vectorise", f"free text (mean {mean_len:.0f} characters): TF-IDF vectorised")
    if unique_ratio >= 0.95 and n_unique > 50:
        return col("identifier", "drop", f"{n_unique:,} distinct strings, nearly one per row (identifier-like)")
    return col("categorical", "encode", f"categorical with {n_unique:,} levels")


def infer_task(y: pd.Series) -> tuple[Task, str]:
    """Binary, multiclass or regression from the target's values, with the reason."""
    values = y.dropna()
    n_unique = int(values.nunique())
    if n_unique <= 2:
        return "binary", f"{n_unique} distinct values"
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "multiclass", f"{n_unique} distinct labels"
    if (
        _is_integral(values)
        and n_unique <= MAX_CLASSES_NUMERIC_TARGET
        and n_unique <= 0.05 * len(values)
    ):
        return "multiclass", f"{n_unique} distinct integer values; pass task='regression' to override"
    if n_unique <= MAX_CLASSES_NUMERIC_TARGET:
        # Few distinct values that are fractional (0.5, 1.5, ...) or too many for the row count are
        # read as measurements; ratings and grades are classes only when the caller says so.
        how = (
            "pass task='multiclass'" if _is_integral(values)
            else f"convert them to text labels (df[{y.name!r}].astype(str))"
        )
        return "regression", (
            f"numeric with only {n_unique} distinct values, read as a quantity; {how} to treat them as classes"
        )
    return "regression", f"numeric with {n_unique:,} distinct values"


def profile_dataset(
    df: pd.DataFrame, target: str, *, task: Task | None = None, seed: int = 0
) -> DatasetProfile:
    """Profile ``df`` for predicting ``target``. Reads the frame; never modifies it."""
    n_rows = len(df)
    approximate = n_rows > SAMPLE_ROWS
    sample = df.sample(n=SAMPLE_ROWS, random_state=seed) if approximate else df
    features = [c for c in df.columns if c != target]
    columns = tuple(_column_profile(c, df[c], sample[c], n_rows) for c in features)
    y = df[target]
    if task is None:
        task, task_reason = infer_task(y)
    else:
        task_reason = "set by the caller"
    class_counts: dict[str, int] = {}
    imbalance = 1.0
    if task != "regression":
        counts = y.value_counts(dropna=True)
        counts = counts[counts > 0]  # a categorical target's unused levels are not classes
        class_counts = {str(k): int(v) for k, v in counts.items()}
        if len(counts):
            imbalance = float(counts.max() / counts.min())
    cells = n_rows * max(len(features), 1)
    missing_cells = int(df[features].isna().sum().sum()) if features else 0
    memory = float(df.memory_usage(deep=False).sum())
    object_cols = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
    if object_cols:
        head = df[object_cols].head(min(n_rows, 10_000))
        per_row = head.memory_usage(deep=True, index=False).sum() / max(len(head), 1)
        memory += per_row * n_rows
    return DatasetProfile(
        target=str(target),
        task=task,
        task_reason=task_reason,
        n_rows=n_rows,
        n_features=len(features),
        columns=columns,
        missing_ratio=missing_cells / cells if cells else 0.0,
        memory_mb=memory / 2**20,
        approximate=approximate,
        class_counts=class_counts,
        imbalance_ratio=imbalance,
    )
