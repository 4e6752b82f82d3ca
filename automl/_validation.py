"""Validation at the public boundary: every rule checked once, before any training.

Messages name the argument or column, the rule, and the fix. The caller's frame is never
modified: rows with a missing target are dropped from a copy.
"""

from __future__ import annotations

import difflib
import logging
import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl.errors import InputError
from search_spaces import TASKS, Task, canonical_name

logger = logging.getLogger("automl")
DEVICES = ("auto", "cpu", "cuda")
#: Fewer rows with a target than this leave nothing to validate on.
MIN_ROWS = 10


@dataclass(frozen=True)
class CleanData:
    """The training frame (a copy when rows were dropped) and what was done to it."""

    frame: pd.DataFrame
    target: str
    dropped_missing_target: int


def check_frame(df: Any, target: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"df must be a pandas DataFrame, got {type(df).__name__}; "
            "wrap arrays with pd.DataFrame(X).assign(target=y) or read a file with pd.read_csv"
        )
    if isinstance(df.columns, pd.MultiIndex):
        raise InputError(
            f"df has {df.columns.nlevels}-level (MultiIndex) column names; flatten them first, e.g. "
            "df.columns = ['_'.join(map(str, c)) for c in df.columns]"
        )
    try:
        hash(target)
    except TypeError as e:
        raise InputError(
            f"target must be the name of one column, e.g. target='y', got {type(target).__name__} {target!r}"
        ) from e
    dupes = df.columns[df.columns.duplicated()].unique().tolist()
    if dupes:
        raise InputError(
            f"df has duplicate column names {dupes!r}; rename them so every column name is unique "
            "(e.g. df.columns = [...])"
        )
    if target not in df.columns:
        names = [str(c) for c in df.columns]
        lowered = {n.lower(): n for n in names}
        close = [lowered[c] for c in difflib.get_close_matches(str(target).lower(), list(lowered), n=3, cutoff=0.5)]
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(repr(c) for c in names[:20]) + (" ..." if len(names) > 20 else "")
        raise InputError(f"target={target!r} is not a column of df{hint} (columns: {shown})")
    if len(df) == 0:
        raise InputError("df is empty (0 rows); pass a frame with at least a few rows per class")
    if df.shape[1] < 2:
        raise InputError(
            f"df has only the target column {target!r}; add at least one feature column"
        )


def string_columns(df: pd.DataFrame, target: Any) -> tuple[pd.DataFrame, str]:
    """Column names as strings (a renamed shallow copy when needed): encoders select by name."""
    if all(isinstance(c, str) for c in df.columns):
        return df, target
    renamed = df.rename(columns=str)
    clashes = renamed.columns[renamed.columns.duplicated()].unique().tolist()
    if clashes:
        raise InputError(
            f"column names {clashes!r} clash once converted to strings (e.g. 1 and '1'); rename them"
        )
    return renamed, str(target)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_arguments(
    *,
    time_budget: Any,
    n_trials: Any,
    task: Any,
    device: Any,
    n_jobs: Any,
    seed: Any,
) -> None:
    number = isinstance(time_budget, (int, float)) and not isinstance(time_budget, bool)
    if not (number and math.isfinite(time_budget) and time_budget > 0):
        raise InputError(
            f"time_budget must be a positive number of seconds, got {time_budget!r}; e.g. time_budget=60"
        )
    if n_trials is not None and not (_is_int(n_trials) and n_trials >= 1):
        raise InputError(f"n_trials must be None or a positive integer, got {n_trials!r}")
    if task is not None and task not in TASKS:
        raise InputError(f"task must be one of {', '.join(TASKS)} or None (inferred), got {task!r}")
    if device not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if not (_is_int(n_jobs) and (n_jobs >= 1 or n_jobs == -1)):
        raise InputError(f"n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}")
    if not (_is_int(seed) and seed >= 0):
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")


def check_frameworks(frameworks: Any) -> list[str] | None:
    if frameworks is None:
        return None
    if isinstance(frameworks, str):
        frameworks = [frameworks]
    if not isinstance(frameworks, Sequence) or not frameworks:
        raise InputError(
            f"frameworks must be a non-empty list of names such as ['sklearn', 'xgboost'], got {frameworks!r}"
        )
    names = []
    for f in frameworks:
        try:
            names.append(canonical_name(str(f)))
        except ValueError as e:
            raise InputError(f"frameworks: {e}") from e
    return list(dict.fromkeys(names))


def clean_target(df: pd.DataFrame, target: str) -> CleanData:
    y = df[target]
    _check_target_values(y, target)
    missing = int(y.isna().sum())
    if missing == len(df):
        raise InputError(f"target column {target!r} is entirely missing; choose a column with values")
    frame = df
    after = ""
    if missing:
        msg = f"dropped {missing:,} of {len(df):,} rows whose target {target!r} is missing"
        warnings.warn(msg, UserWarning, stacklevel=3)
        logger.warning(msg)
        frame = df.loc[y.notna()]
        after = f" (after dropping {missing:,} rows with a missing target)"
    if len(frame) < MIN_ROWS:
        raise InputError(
            f"df has {len(frame):,} row(s) with a target{after}; at least {MIN_ROWS} are needed to train "
            "and validate a model: add rows"
        )
    if frame[target].nunique() < 2:
        value = frame[target].iloc[0]
        raise InputError(
            f"target column {target!r} has a single value ({value!r}) in all {len(frame):,} rows{after}; "
            "there is nothing to learn: check the column or add rows of other classes"
        )
    plain = _plain_target(frame[target])
    if plain is not None:
        frame = frame.copy(deep=False)  # the caller's frame keeps its dtype
        frame[target] = plain
    return CleanData(frame=frame, target=target, dropped_missing_target=missing)


def _check_target_values(y: pd.Series, target: str) -> None:
    """Targets the models cannot learn: dates, infinities, unhashable objects, mixed types."""
    if isinstance(y.dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(y) or (
        pd.api.types.is_timedelta64_dtype(y)
    ):
        raise InputError(
            f"target column {target!r} holds dates or durations ({y.dtype}), which cannot be predicted; "
            "convert it to a number (e.g. days since a reference date) for regression"
        )
    if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        if np.isinf(y.to_numpy(dtype=np.float64, na_value=np.nan)).any():
            raise InputError(
                f"target column {target!r} contains infinite values; replace or drop those rows "
                "(rows with a missing target are dropped for you)"
            )
        return
    if y.dtype != object:
        return
    values = y.dropna()
    _check_hashable(values, f"target column {target!r}")
    kinds = {_value_kind(v) for v in pd.unique(values)}
    if len(kinds) > 1:
        raise InputError(
            f"target column {target!r} mixes value types ({', '.join(sorted(kinds))}); labels must be of one "
            f"type: convert them, e.g. df[{target!r}].astype(str)"
        )


def _value_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, (int, float, np.number)):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def _plain_target(y: pd.Series) -> pd.Series | None:
    """Labels as NumPy values (categorical: used levels only), or None when they are already plain.

    Nullable numbers and booleans (Int64, boolean) would otherwise come back from predict as floats.
    """
    if isinstance(y.dtype, pd.CategoricalDtype):
        return y.cat.remove_unused_categories()
    numpy_dtype = getattr(y.dtype, "numpy_dtype", None)
    if isinstance(y.dtype, pd.api.extensions.ExtensionDtype) and numpy_dtype is not None and numpy_dtype.kind in "biuf":
        return y.astype(numpy_dtype)
    return None


def _check_hashable(values: pd.Series, what: str) -> None:
    """Values of an object column are scalars: lists, dicts, sets and arrays are refused."""
    try:
        pd.unique(values.to_numpy())  # hashes in C: only an unhashable value makes it raise
        return
    except TypeError:
        pass
    for v in values:
        if not isinstance(v, Hashable):
            raise InputError(
                f"{what} holds {type(v).__name__} values (e.g. {_short(v)}); columns must hold scalars "
                "(numbers, strings, booleans, dates): flatten it (e.g. pd.json_normalize) or drop it"
            )


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


#: Feature dtypes the preprocessing cannot read, and how to convert them.
UNSUPPORTED_DTYPES = (
    ("durations (timedelta)", pd.api.types.is_timedelta64_dtype, "df[c].dt.total_seconds()"),
    ("periods", lambda s: isinstance(s.dtype, pd.PeriodDtype), "df[c].dt.to_timestamp()"),
    ("complex numbers", pd.api.types.is_complex_dtype, "np.real(df[c]) and np.imag(df[c]) as two columns"),
)


def check_features(frame: pd.DataFrame, target: Any) -> None:
    features = frame.drop(columns=[target])
    for what, test, fix in UNSUPPORTED_DTYPES:
        cols = [str(c) for c in features.columns if test(features[c])]
        if cols:
            raise InputError(f"columns {cols!r} hold {what}, which the models cannot read; convert them, e.g. {fix}")
    for col in features.columns:
        if features[col].dtype == object:
            _check_hashable(features[col].dropna(), f"column {str(col)!r}")
    numeric = features.select_dtypes(include=[np.number])
    if numeric.shape[1]:
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isinf(values).any(axis=0)
        if bad.any():
            cols = [str(c) for c in numeric.columns[bad]]
            raise InputError(
                f"columns {cols!r} contain infinite values; replace them, e.g. "
                "df.replace([np.inf, -np.inf], np.nan), and missing values are handled for you"
            )


def check_task(task: Task, y: pd.Series) -> None:
    n = int(y.nunique())
    if task == "binary" and n != 2:
        raise InputError(f"task='binary' but the target has {n} distinct values; use task='multiclass' or None")
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        raise InputError(
            f"task='regression' needs a numeric target, got dtype {y.dtype}; use a classification task"
        )
    if task != "regression" and pd.api.types.is_float_dtype(y):
        values = y.to_numpy(dtype=np.float64, na_value=np.nan)
        fractional = values[np.isfinite(values) & (np.floor(values) != values)]
        if fractional.size:
            raise InputError(
                f"target {y.name!r} holds fractional numbers (e.g. {float(fractional[0])!r}) but the task is {task}; "
                f"class labels must be whole numbers or text: convert them, e.g. df[{y.name!r}].astype(str), "
                "or pass task='regression'"
            )
    if task != "regression":
        counts = y.value_counts()
        single = counts.index[counts < 2].tolist()
        if single:
            shown = ", ".join(repr(c) for c in single[:5]) + (" ..." if len(single) > 5 else "")
            hint = (
                "; the target looks like an identifier or a measurement, not classes"
                if len(single) > len(counts) / 2 else ""
            )
            raise InputError(
                f"target {y.name!r}: {len(single):,} of {len(counts):,} classes have a single row ({shown}); "
                "every class needs at least 2 rows, one to train on and one to validate: add rows of "
                f"those classes or drop them{hint}"
            )


SEARCH_OPTIONS = {
    "portfolio": (True, False),
    "pruner": ("sha", "median", "none"),
    "allocation": ("cost", "uniform", "sampler"),
    "subsample": (True, False),
    "bagging": (True, False, "medium"),
    "cv_repeats": (1, 2, 3, 4, 5),
    # Ensemble weights on up to 1,000 rows: greedy selection averaged over bootstrap samples, or one pass.
    "selection": ("bootstrap", "greedy"),
    # Repeated folds, fold models kept: selection scores each row's predictions averaged over the repeats, or pooled.
    "selection_rows": ("averaged", "pooled"),
    "isolation": ("none", "process"),
    # Keras 3's backend for this process (and its trial processes); "auto": the fastest measured here.
    "keras_backend": ("auto", "tensorflow", "jax", "torch"),
}
#: Numeric options: (smallest allowed value, what it means).
NUMERIC_OPTIONS = {
    "trial_timeout": (1.0, "seconds a trial may run (default: a quarter of the time budget, at least 10)"),
    "memory_limit_mb": (256.0, "MB a trial's process may use with isolation='process'; kept bags: at most 40% of it"),
}


def check_search_options(options: Any, ensemble: Any) -> dict[str, Any]:
    """``ensemble`` and ``search_options`` as SearchSettings fields, or an InputError naming the key."""
    if not isinstance(ensemble, bool):
        raise InputError(f"ensemble must be True or False, got {ensemble!r}")
    out: dict[str, Any] = {"ensemble": ensemble}
    if options is None:
        return out
    if not isinstance(options, dict):
        raise InputError(f"search_options must be a dict, got {type(options).__name__}")
    for key, value in options.items():
        if key in NUMERIC_OPTIONS:
            low, meaning = NUMERIC_OPTIONS[key]
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (value is None or (number and math.isfinite(value) and value >= low)):
                raise InputError(
                    f"search_options[{key!r}] ({meaning}) must be a number >= {low:g} or None, got {value!r}"
                )
            out[key] = None if value is None else float(value)
            continue
        if key not in SEARCH_OPTIONS:
            known = ", ".join([*SEARCH_OPTIONS, *NUMERIC_OPTIONS])
            raise InputError(f"search_options: unknown key {key!r}; known keys: {known}")
        allowed = SEARCH_OPTIONS[key]
        # True == 1: a bool is accepted only where the allowed values are bools, and only there.
        wrong_type = isinstance(value, bool) != any(isinstance(v, bool) and v == value for v in allowed)
        if value not in allowed or wrong_type:
            raise InputError(f"search_options[{key!r}] must be one of {list(allowed)}, got {value!r}")
        out[key] = value
    return out
