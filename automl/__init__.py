"""Which ML framework to use for your tabular dataset on your hardware, and the best model it finds.

    >>> import automl
    >>> result = automl.fit(df, "target", time_budget=60)
    >>> result.leaderboard, result.recommendation, result.predict(new_df)

Importing this package loads no ML framework: scikit-learn, XGBoost and the rest load when a
trial of theirs runs.

OpenMP threads (scikit-learn's histogram boosting, XGBoost, LightGBM) wait for each other by
spinning. libgomp's default spin is long: the six models of ``python -m benchmarks.omp_threads``
take 2.8 s on two idle cores and 14 to 61 s while another process keeps one core busy;
``OMP_WAIT_POLICY=PASSIVE`` avoids that but takes 14.8 s on the idle cores. Importing this package
sets ``GOMP_SPINCOUNT=10000`` unless it is set: 2.85 s idle, about 20 s with a core busy. It takes
effect only when no OpenMP library was loaded before (import ``automl`` first, or set the variable
yourself). With ``n_jobs=-1`` (the default) models also use only the cores other processes leave
free: 4.4 s with a core busy.
"""

import os
from typing import Any

os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from automl.api import fit, hardware, load, profile, recommend, resume, work
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
    "resume",
    "work",
]


def __getattr__(name: str) -> Any:
    # The estimators import scikit-learn, which costs a second; load them on first use.
    if name in ("AutoMLClassifier", "AutoMLRegressor"):
        from automl import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'automl' has no attribute {name!r}")
__version__ = "0.1.0"
