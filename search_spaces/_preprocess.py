"""Column preprocessing built from a :class:`FeatureSpec`, fitted inside each fold by the pipeline.

Column order out of the transformer is fixed: categorical (and boolean) first, then numeric,
datetime parts, text. Models that take native categoricals rely on that: with ordinal encoding the
first ``len(spec.categorical) + len(spec.boolean)`` output columns are the category codes.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from search_spaces._spec import FeatureSpec

MISSING = "__missing__"
#: A numeric column gets a missing-value indicator only when at least this many training rows miss
#: it: an indicator set on one or two rows lets a model memorise those rows' labels (on penguins, the
#: one training penguin with every measurement missing taught "all missing => Adelie", and a Gentoo
#: with every measurement missing in the test rows was then given a probability of 1e-3).
MIN_INDICATOR_ROWS = 10
DATETIME_PARTS = ("year", "month", "day", "dayofweek", "hour", "epoch_days")


def _as_strings(frame: Any) -> Any:
    """Categories as strings, with missing values as one explicit level.

    Each column's levels are turned into strings once and shared by the rows that hold them, not
    one string per cell (ten million of them on the scale benchmark's million rows)."""
    df = pd.DataFrame(frame)
    out = np.empty(df.shape, dtype=object)
    for j in range(df.shape[1]):
        column = pd.Categorical(df.iloc[:, j])
        levels = np.asarray([str(v) for v in column.categories] + [MISSING], dtype=object)
        out[:, j] = levels[column.codes]  # code -1 (missing) takes the last level
    return out


def _text_column(frame: Any) -> list[str]:
    series = frame.iloc[:, 0] if isinstance(frame, pd.DataFrame) else pd.Series(np.ravel(frame))
    return series.fillna("").astype(str).tolist()


def _as_float(frame: Any, dtype: Any = np.float64) -> Any:
    return pd.DataFrame(frame).apply(pd.to_numeric, errors="coerce").to_numpy(dtype=dtype)


def _float_dtype(values: np.ndarray) -> np.ndarray:
    """``values`` as float32 when they are, else float64 (the network pipelines stay in float32)."""
    return values if values.dtype == np.float32 else np.asarray(values, dtype=np.float64)


class DatetimeParts(TransformerMixin, BaseEstimator):
    """Turns datetime (or date-like string) columns into numeric parts a model can split on."""

    def __init__(self, dtype: Any = np.float64) -> None:
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> DatetimeParts:
        self.feature_names_in_ = np.asarray(pd.DataFrame(X).columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: Any) -> np.ndarray:
        df = pd.DataFrame(X)
        dtype = getattr(self, "dtype", np.float64)  # saved before it had one: float64
        blocks = []
        for col in df.columns:
            values = pd.to_datetime(df[col], errors="coerce", utc=True, format="mixed")
            epoch = (values - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds() / 86400.0
            blocks.append(
                np.column_stack(
                    [
                        values.dt.year, values.dt.month, values.dt.day,
                        values.dt.day_of_week, values.dt.hour, epoch,
                    ]
                ).astype(dtype)
            )
        return np.hstack(blocks) if blocks else np.empty((len(df), 0), dtype=dtype)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(
            [f"{c}__{p}" for c in self.feature_names_in_ for p in DATETIME_PARTS], dtype=object
        )


class MedianImputer(TransformerMixin, BaseEstimator):
    """Median imputation plus a missing indicator per column missing in enough training rows.

    scikit-learn's ``SimpleImputer(add_indicator=True)`` flags every column with any missing value;
    this one leaves out columns missing in fewer than ``min_indicator_rows`` rows.
    """

    def __init__(self, min_indicator_rows: int = MIN_INDICATOR_ROWS) -> None:
        self.min_indicator_rows = min_indicator_rows

    def fit(self, X: Any, y: Any = None) -> MedianImputer:
        values = _float_dtype(np.asarray(X))
        self.n_features_in_ = values.shape[1]
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(values)
        counts = np.isnan(values).sum(axis=0)
        self.indicator_columns_ = np.flatnonzero(counts >= self.min_indicator_rows)
        return self

    def transform(self, X: Any) -> np.ndarray:
        values = _float_dtype(np.asarray(X))
        filled = self.imputer_.transform(values)
        if not len(self.indicator_columns_):
            return filled
        return np.hstack([filled, np.isnan(values[:, self.indicator_columns_]).astype(filled.dtype)])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = (
            np.asarray(input_features, dtype=object) if input_features is not None
            else np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        )
        flags = [f"missingindicator_{names[i]}" for i in self.indicator_columns_]
        return np.concatenate([names, np.asarray(flags, dtype=object)])


def n_categorical_outputs(spec: FeatureSpec) -> int:
    """How many leading output columns are category codes under ordinal encoding."""
    return len(spec.categorical) + len(spec.boolean)


def make_preprocessor(
    spec: FeatureSpec,
    *,
    categorical: Literal["onehot", "ordinal"],
    scale: bool = False,
    impute: bool = True,
    max_onehot: int = 32,
    text_features: int = 200,
    dense: bool = True,
    dtype: Any = np.float64,
) -> ColumnTransformer:
    """Build the column transformer a model needs.

    ``impute=False`` leaves NaN in place for learners that handle missing values natively
    (histogram gradient boosting, XGBoost); ordinal codes for unseen or missing categories are NaN.
    ``dtype=np.float32`` (the networks, which train in float32) keeps every block in float32 from
    the start: half the memory, and no float64 copy of the whole matrix to convert (on the scale
    benchmark's million rows, 2.3 GB of one-hot float64 became 1.2 GB). Numbers are then rounded to
    float32 before they are scaled, as the networks and their ONNX graphs see them anyway.
    """
    steps: list[tuple[str, Any, Any]] = []
    cats = list(spec.categorical + spec.boolean)
    if cats:
        if categorical == "onehot":
            encoder: Any = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=max_onehot,
                drop="if_binary",
                sparse_output=not dense,
                dtype=dtype,
            )
            steps.append(("cat", make_pipeline(FunctionTransformer(_as_strings), encoder), cats))
        else:
            ordinal: list[Any] = [
                FunctionTransformer(_as_strings),
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, dtype=dtype),
            ]
            if impute:
                ordinal.append(SimpleImputer(strategy="constant", fill_value=-1))
            steps.append(("cat", make_pipeline(*ordinal), cats))
    numeric_like: list[tuple[str, Any]] = []
    if spec.numeric:
        numeric_like.append(("num", list(spec.numeric)))
    if spec.datetime:
        numeric_like.append(("date", list(spec.datetime)))
    for name, cols in numeric_like:
        first: Any = (
            FunctionTransformer(_as_float, kw_args={"dtype": dtype}) if name == "num" else DatetimeParts(dtype)
        )
        parts: list[Any] = [first]
        if impute:
            parts.append(MedianImputer())
        if scale:
            parts.append(StandardScaler())
        steps.append((name, make_pipeline(*parts), cols))
    for i, col in enumerate(spec.text):
        vectoriser = TfidfVectorizer(max_features=text_features, sublinear_tf=True, dtype=np.float32)
        steps.append((f"text{i}", make_pipeline(FunctionTransformer(_text_column), vectoriser), [col]))
    return ColumnTransformer(
        steps,
        remainder="drop",
        sparse_threshold=0.0 if dense else 0.3,
        verbose_feature_names_out=False,
    )


def with_preprocessing(preprocessor: ColumnTransformer, model: Any) -> Pipeline:
    return Pipeline([("preprocess", preprocessor), ("model", model)])
