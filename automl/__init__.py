"""Which ML framework to use for your tabular dataset on your hardware, and the best model it finds.

    >>> import automl
    >>> result = automl.fit(df, "target", time_budget=60)
    >>> result.leaderboard, result.recommendation, result.predict(new_df)

Importing this package loads no ML framework: scikit-learn, XGBoost and the rest load when a
trial of theirs runs.

OpenMP threads (scikit-learn's histogram boosting, XGBoost, LightGBM) spin while they wait by
default; when the cores are busy with anything else that turns a 9 s trial into a 125 s one
(measured: mfeat_factors, one scikit-learn trial, 2 cores with one busy). Importing this package
therefore sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is already set. It takes effect only when no
OpenMP library was loaded before (import ``automl`` first, or set the variable yourself).
"""

import os
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from automl.api import fit, hardware, load, profile, recommend
from automl.errors import InputError, NotFittedError
from automl.result import AutoMLResult

__all__ = [
    "AutoMLClassifier",
    "AutoMLRegressor",
    "AutoMLResult",
    "InputError",
    "NotFittedError",
    "fit",
    "hardware",
    "load",
    "profile",
    "recommend",
]


def __getattr__(name: str) -> Any:
    # The estimators import scikit-learn, which costs a second; load them on first use.
    if name in ("AutoMLClassifier", "AutoMLRegressor"):
        from automl import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'automl' has no attribute {name!r}")
__version__ = "0.1.0"
