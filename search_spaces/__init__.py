"""Framework adapters: metadata, search spaces and estimator builders, one module per framework.

Importing this package imports no machine-learning framework beyond scikit-learn's light modules;
each adapter imports its framework inside ``build``/``fit``.
"""

from search_spaces import autokeras_adapter as _autokeras_adapter  # noqa: F401  (registers)
from search_spaces import catboost_adapter as _catboost_adapter  # noqa: F401  (registers)
from search_spaces import keras_adapter as _keras_adapter  # noqa: F401  (registers)
from search_spaces import lightgbm_adapter as _lightgbm_adapter  # noqa: F401  (registers)
from search_spaces import sklearn_adapter as _sklearn_adapter  # noqa: F401  (registers)
from search_spaces import torch_adapter as _torch_adapter  # noqa: F401  (registers)
from search_spaces import xgboost_adapter as _xgboost_adapter  # noqa: F401  (registers)
from search_spaces._base import Config, Device, FrameworkAdapter, ScopedTrial
from search_spaces._budget import FitBudget, current_budget, fit_budget
from search_spaces._registry import (
    adapter_names,
    all_adapters,
    canonical_name,
    get_adapter,
    register,
    unregister,
)
from search_spaces._spec import TASKS, FeatureSpec, RankingFacts, Task

__all__ = [
    "TASKS",
    "Config",
    "Device",
    "FeatureSpec",
    "FitBudget",
    "FrameworkAdapter",
    "RankingFacts",
    "ScopedTrial",
    "Task",
    "adapter_names",
    "all_adapters",
    "canonical_name",
    "current_budget",
    "fit_budget",
    "get_adapter",
    "register",
    "unregister",
]
