"""The fitted result: best model and framework, leaderboard, recommendation, profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automl.errors import InputError
from automl.metrics import Metric
from recommender import DatasetProfile, HardwareProfile, Recommendation


def leaderboard_frame(study: optuna.Study, metric: Metric) -> pd.DataFrame:
    """One row per trial, best first: framework, model, score, fit seconds, state, failure reason."""
    rows = []
    for t in study.trials:
        if t.state in (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING):
            continue
        score = t.value if t.state == optuna.trial.TrialState.COMPLETE else None
        rows.append(
            {
                "trial": t.number,
                "framework": t.params.get("framework"),
                "model": t.user_attrs.get("family"),
                "score": score,
                metric.display_name: None if score is None else metric.display(score),
                "fit_seconds": t.user_attrs.get("fit_seconds"),
                "state": t.state.name,
                "failure_reason": t.user_attrs.get("failure"),
                "device": t.user_attrs.get("device"),
                "truncated": t.user_attrs.get("truncated"),
                "params": t.user_attrs.get("config", {}),
            }
        )
    cols = ["trial", "framework", "model", "score", metric.display_name, "fit_seconds", "state",
            "failure_reason", "device", "truncated", "params"]
    frame = pd.DataFrame(rows, columns=cols)
    if frame.empty:
        return frame
    frame = frame.sort_values(["score", "trial"], ascending=[False, True], na_position="last")
    return frame.reset_index(drop=True)


@dataclass
class AutoMLResult:
    """What ``automl.fit`` returns: ready to predict, inspect and compare.

    ``best_score`` is the validation score of the best trial in scikit-learn's greater-is-better
    convention (losses negated); ``leaderboard`` shows the loss itself in a column of its own.
    """

    best_framework: str
    best_model_family: str
    best_model: Any
    best_params: dict[str, Any]
    best_score: float
    metric: Metric
    task: str
    leaderboard: pd.DataFrame
    recommendation: Recommendation
    profile: DatasetProfile
    hardware: HardwareProfile
    study: optuna.Study | None
    feature_columns: list[str]
    feature_dtypes: dict[str, str]
    validation: str
    refit: str
    elapsed_seconds: float
    time_budget: float
    messages: list[str] = field(default_factory=list)
    #: When an ensemble won: its members (trial, framework, model, weight); best_framework is
    #: then the framework with the largest total weight.
    ensemble: list[dict[str, Any]] = field(default_factory=list)

    @property
    def classes_(self) -> np.ndarray | None:
        return getattr(self.best_model, "classes_", None) if self.task != "regression" else None

    def _features(self, df: Any) -> pd.DataFrame:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"predict needs a pandas DataFrame, got {type(df).__name__}")
        if not all(isinstance(c, str) for c in df.columns):
            df = df.rename(columns=str)  # training used string names too
        missing = [c for c in self.feature_columns if c not in df.columns]
        if missing:
            raise InputError(
                f"columns {missing!r} were used in training but are missing from the frame; "
                "add them (missing values are allowed) or refit without them"
            )
        return df[self.feature_columns]

    def predict(self, df: pd.DataFrame) -> pd.Series:
        """Predictions in the original label values (classification) or units (regression)."""
        pred = self.best_model.predict(self._features(df))
        return pd.Series(pred, index=df.index, name=self.profile.target)

    def predict_proba(self, df: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities: one column per class, named by the original label values."""
        if self.task == "regression":
            raise InputError("predict_proba is for classification; this result is a regression model")
        proba = self.best_model.predict_proba(self._features(df))
        return pd.DataFrame(proba, index=df.index, columns=list(self.classes_))

    @property
    def best_metric_value(self) -> float:
        return self.metric.display(self.best_score)

    def summary(self) -> str:
        n = len(self.leaderboard)
        by_state = self.leaderboard["state"].value_counts().to_dict() if n else {}
        states = ", ".join(f"{v} {k.lower()}" for k, v in by_state.items())
        return "\n".join(
            [
                f"Best: {self.best_framework} / {self.best_model_family}  "
                f"{self.metric.display_name} = {self.best_metric_value:.5g} ({self.validation})",
                f"Trials: {n} ({states}) in {self.elapsed_seconds:.1f}s of a {self.time_budget:g}s budget",
                f"Final model: {self.refit}",
                f"Parameters: {self.best_params}" if not self.ensemble else "Ensemble: " + ", ".join(
                    f"trial {m['trial']} {m['framework']}/{m['model']} x{m['weight']:.2f}" for m in self.ensemble
                ),
            ]
            + [f"Note: {m}" for m in self.messages]
        )

    def __repr__(self) -> str:
        return (
            f"AutoMLResult(best_framework={self.best_framework!r}, model={self.best_model_family!r}, "
            f"{self.metric.display_name}={self.best_metric_value:.5g}, trials={len(self.leaderboard)})"
        )

    def _repr_html_(self) -> str:
        board = self.leaderboard.drop(columns=["params"]).head(15).to_html(index=False, na_rep="")
        return (
            "<div><b>AutoML result</b><pre>" + self.summary().replace("<", "&lt;") + "</pre>"
            + board + self.recommendation._repr_html_() + "</div>"
        )
