"""Which ML framework to use for your tabular dataset on your hardware, and the best model it finds.

    >>> import automl
    >>> result = automl.fit(df, "target", time_budget=60)
    >>> result.leaderboard, result.recommendation, result.predict(new_df)

Importing this package loads no ML framework: scikit-learn, XGBoost and the rest load when a
trial of theirs runs.
"""

from typing import Any

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
