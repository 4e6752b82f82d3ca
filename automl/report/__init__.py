"""What a fitted result shows: plots (matplotlib) and experiment tracking (MLflow)."""

from automl.report._plots import (
    permutation_importance_frame,
    plot_fit_time,
    plot_history,
    plot_importance,
    save_plots,
)
from automl.report._tracking import log_to_mlflow

__all__ = [
    "log_to_mlflow",
    "permutation_importance_frame",
    "plot_fit_time",
    "plot_history",
    "plot_importance",
    "save_plots",
]
