"""The fitted result: best model and framework, leaderboard, recommendation, profiles."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automl.errors import InputError
from automl.metrics import Metric, resolve_metric
from recommender import DatasetProfile, HardwareProfile, Recommendation


def leaderboard_frame(study: optuna.Study, metric: Metric) -> pd.DataFrame:
    """One row per trial, best first: framework, model, score, fit seconds, state, failure reason."""
    rows = []
    trials = study.trials
    retries = {t.system_attrs["failed_trial"]: t.number for t in trials if "failed_trial" in t.system_attrs}
    for t in trials:
        failure = t.user_attrs.get("failure")
        if t.state == optuna.trial.TrialState.FAIL and not failure and t.number in retries:
            # Failed by Optuna's heartbeat check: the process running it stopped beating (killed, lost).
            failure = f"its process stopped (no heartbeat); run again as trial {retries[t.number]}"
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
                "failure_reason": None if score is not None else failure,
                "retry_of": t.system_attrs.get("failed_trial"),
                "device": t.user_attrs.get("device"),
                "truncated": t.user_attrs.get("truncated"),
                "params": t.user_attrs.get("config", {}),
                "seconds": _duration(t),
                "fold_scores": t.user_attrs.get("fold_scores"),
            }
        )
    cols = ["trial", "framework", "model", "score", metric.display_name, "fit_seconds", "state",
            "failure_reason", "retry_of", "device", "truncated", "params", "seconds", "fold_scores"]
    frame = pd.DataFrame(rows, columns=cols)
    if frame.empty:
        return frame
    frame = frame.sort_values(["score", "trial"], ascending=[False, True], na_position="last")
    return frame.reset_index(drop=True)


def _duration(t: optuna.trial.FrozenTrial) -> float | None:
    """The trial's wall seconds, pruned and failed trials included."""
    if t.datetime_start is None or t.datetime_complete is None:
        return None
    return round((t.datetime_complete - t.datetime_start).total_seconds(), 4)


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
    #: Each feature's kind (numeric, categorical, boolean, datetime, text) as the profile saw it.
    feature_kinds: dict[str, str] = field(default_factory=dict)
    #: The levels seen in training for categorical and boolean features (as strings, at most 1,000).
    feature_categories: dict[str, list[str]] = field(default_factory=dict)
    #: Where this result was loaded from or last saved to.
    run_dir: str | None = None
    #: Whether Ctrl-C stopped the search early (the result holds the best model found until then).
    interrupted: bool = False
    #: With a holdout: each framework's paired bootstrap difference to the best (automl.search._noise);
    #: read from the study while it is here, kept in the manifest for a loaded run.
    validation_noise: dict[str, Any] = field(default_factory=dict)

    @property
    def classes_(self) -> np.ndarray | None:
        return getattr(self.best_model, "classes_", None) if self.task != "regression" else None

    def schema(self) -> dict[str, Any]:
        """The input schema the model expects: each feature's name, dtype, kind and training levels."""
        return {
            "columns": [
                {
                    "name": c,
                    "dtype": self.feature_dtypes.get(c),
                    "kind": self.feature_kinds.get(c),
                    "categories": self.feature_categories.get(c),
                }
                for c in self.feature_columns
            ]
        }

    def _features(self, df: Any) -> pd.DataFrame:
        """The model's columns from ``df``, checked against the training schema.

        Columns are matched by name, so order does not matter and extra columns (the target
        included) are ignored. A missing column is an error; so is a column that was numeric in
        training and now holds values that are not numbers. Numbers stored as strings are
        converted. Categories not seen in training are treated as unknown by the encoders.
        The caller's frame is never modified.
        """
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"predict needs a pandas DataFrame, got {type(df).__name__}")
        if not all(isinstance(c, str) for c in df.columns):
            df = df.rename(columns=str)  # training used string names too
        missing = [c for c in self.feature_columns if c not in df.columns]
        if missing:
            raise InputError(
                f"columns {missing!r} were used in training but are missing from the frame; "
                "add them (missing values are allowed) or refit without them"
            )
        if df.columns.duplicated().any():
            dup = sorted(set(df.columns[df.columns.duplicated()]))
            raise InputError(f"the frame has duplicate column names {dup!r}; rename them so each is unique")
        X = df[self.feature_columns]
        for col in self.feature_columns:
            if self.feature_kinds.get(col) != "numeric" or pd.api.types.is_numeric_dtype(X[col].dtype):
                continue
            converted = pd.to_numeric(X[col], errors="coerce")
            bad = X[col].notna() & converted.isna()
            if bad.any():
                example = X[col][bad].iloc[0]
                raise InputError(
                    f"column {col!r} was numeric ({self.feature_dtypes.get(col)}) in training but holds "
                    f"{int(bad.sum()):,} non-numeric values here (e.g. {example!r}); convert them to numbers "
                    "or to missing values (pd.to_numeric(..., errors='coerce'))"
                )
            X = X.assign(**{col: converted})
        numeric = [c for c in self.feature_columns if pd.api.types.is_numeric_dtype(X[c].dtype)
                   and not pd.api.types.is_bool_dtype(X[c].dtype)]
        if numeric:
            values = X[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
            bad = np.isinf(values).any(axis=0)
            if bad.any():
                cols = [c for c, b in zip(numeric, bad, strict=True) if b]
                raise InputError(
                    f"columns {cols!r} contain infinite values; replace them, e.g. "
                    "df.replace([np.inf, -np.inf], np.nan), and missing values are handled for you"
                )
        return X

    def predict(self, df: pd.DataFrame) -> pd.Series:
        """Predictions in the original label values (classification) or units (regression)."""
        X = self._features(df)
        if len(X) == 0:  # scikit-learn refuses 0 rows; an empty frame has an empty answer
            labels = pd.Series([], dtype=np.float64) if self.classes_ is None else pd.Series(self.classes_)
            return labels.iloc[:0].set_axis(df.index).rename(self.profile.target)
        pred = self.best_model.predict(X)
        return pd.Series(pred, index=df.index, name=self.profile.target)

    def predict_proba(self, df: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities: one column per class, named by the original label values."""
        if self.task == "regression":
            raise InputError("predict_proba is for classification; this result is a regression model")
        X = self._features(df)
        if len(X) == 0:
            return pd.DataFrame(np.empty((0, len(self.classes_))), index=df.index, columns=list(self.classes_))
        proba = self.best_model.predict_proba(X)
        return pd.DataFrame(proba, index=df.index, columns=list(self.classes_))

    # -- persistence, export, plots ------------------------------------------------------------------
    def save(
        self, path: str | Path, *, overwrite: bool = False, plots: bool = False, data: pd.DataFrame | None = None
    ) -> Path:
        """Write a run directory (model in its framework's format, ``manifest.json`` with checksums).

        Load it back with :func:`automl.load`. ``plots=True`` also writes the PNG plots into
        ``plots/`` (the permutation importance plot when ``data`` with the target is given).
        """
        from automl.io import save_run

        out = save_run(self, path, overwrite=overwrite, plots=plots, data=data)
        self.run_dir = str(out)
        return out

    def to_manifest(self) -> dict[str, Any]:
        """What a run directory's ``manifest.json`` records about this result.

        JSON-ready but for NumPy scalars, which the writer converts. The run directory adds the
        file-level fields (format, versions, study name, model layout, checksums);
        :meth:`from_manifest` reads these fields back.
        """
        return {
            "task": self.task,
            "target": self.profile.target,
            "metric": {"name": self.metric.name, "display_name": self.metric.display_name},
            "schema": self.schema(),
            "best": {
                "framework": self.best_framework,
                "model_family": self.best_model_family,
                "params": self.best_params,
                "score": self.best_score,
                "metric_value": self.best_metric_value,
            },
            "ensemble": self.ensemble,
            "classes": None if self.classes_ is None else list(self.classes_),
            "validation": self.validation,
            "refit": self.refit,
            "elapsed_seconds": self.elapsed_seconds,
            "time_budget": self.time_budget,
            "messages": self.messages,
            # 15 digits (pandas' most, default 10): the framework report recomputed after load is the same.
            "leaderboard": json.loads(
                self.leaderboard.to_json(orient="records", default_handler=str, double_precision=15)
            ),
            "recommendation": self.recommendation.to_dict(),
            "profile": self.profile.to_dict(),
            "hardware": self.hardware.to_dict(),
            "validation_noise": self._validation_noise(),
            "framework_report": self.framework_report().to_dict(),
        }

    @classmethod
    def from_manifest(
        cls, manifest: dict[str, Any], *, model: Any, study: optuna.Study | None = None, run_dir: str | None = None
    ) -> AutoMLResult:
        """The result a manifest written from :meth:`to_manifest` describes, around the loaded ``model``.

        A missing field raises ``KeyError``; ``automl.load`` reports it as a damaged run directory.
        """
        schema = manifest["schema"]["columns"]
        board = pd.DataFrame(manifest["leaderboard"])
        best = manifest["best"]
        return cls(
            best_framework=best["framework"],
            best_model_family=best["model_family"],
            best_model=model,
            best_params=best["params"],
            best_score=float(best["score"]),
            metric=resolve_metric(manifest["metric"]["name"], manifest["task"]),
            task=manifest["task"],
            leaderboard=board,
            recommendation=Recommendation.from_dict(manifest["recommendation"]),
            profile=DatasetProfile.from_dict(manifest["profile"]),
            hardware=HardwareProfile.from_dict(manifest["hardware"]),
            study=study,
            feature_columns=[c["name"] for c in schema],
            feature_dtypes={c["name"]: c["dtype"] for c in schema},
            feature_kinds={c["name"]: c["kind"] for c in schema},
            feature_categories={c["name"]: c["categories"] for c in schema if c.get("categories") is not None},
            validation=manifest["validation"],
            refit=manifest["refit"],
            elapsed_seconds=float(manifest["elapsed_seconds"]),
            time_budget=float(manifest["time_budget"]),
            messages=list(manifest.get("messages", [])),
            ensemble=list(manifest.get("ensemble", [])),
            run_dir=run_dir,
            validation_noise=dict(manifest.get("validation_noise") or {}),
        )

    def export_onnx(self, path: str | Path) -> Path:
        """Write the best model as one ONNX file taking the raw feature columns as named inputs."""
        from automl.export.onnx import export_onnx

        return export_onnx(
            self.best_model, path, feature_columns=self.feature_columns, feature_dtypes=self.feature_dtypes,
            task=self.task, classes=self.classes_,
            # The framework's adapter chooses the converter: one name per member (each fold of a bag).
            framework=member_frameworks(self),
        )

    def plot_history(self, ax: Any = None) -> Any:
        """Score of every finished trial against time, coloured by framework, with the running best."""
        from automl.report import plot_history

        return plot_history(self, ax=ax)

    def plot_fit_time(self, ax: Any = None) -> Any:
        """Score against fit seconds per trial, one colour per framework."""
        from automl.report import plot_fit_time

        return plot_fit_time(self, ax=ax)

    def plot_importance(self, df: pd.DataFrame, *, n_repeats: int = 5, top: int = 20, ax: Any = None) -> Any:
        """Permutation importance of the best model's features on ``df`` (rows with the target)."""
        from automl.report import plot_importance

        return plot_importance(self, df, n_repeats=n_repeats, top=top, ax=ax)

    def permutation_importance(self, df: pd.DataFrame, *, n_repeats: int = 5, seed: int = 0) -> pd.DataFrame:
        """Drop in the validation metric when each feature is shuffled (scikit-learn's implementation)."""
        from automl.report import permutation_importance_frame

        return permutation_importance_frame(self, df, n_repeats=n_repeats, seed=seed)

    def framework_report(self) -> Any:
        """Each framework's best validation score, trials and seconds, and which are tied with the best
        within the validation noise of the folds: ``.verdict``, ``.to_frame()``,
        ``.save_to_metadata(path, df)`` (opt-in). See :mod:`automl._frameworks`."""
        from automl._frameworks import framework_report

        return framework_report(self)

    def _validation_noise(self) -> dict[str, Any]:
        if self.validation_noise or self.study is None:
            return self.validation_noise
        return dict(self.study.user_attrs.get("holdout_noise", {}))

    @property
    def best_metric_value(self) -> float:
        return self.metric.display(self.best_score)

    def summary(self, verdict: bool = True) -> str:
        """The best model, the trials and the final model in a few lines; ``verdict``: with the
        framework report's one-line answer (the CLI prints the whole report above it instead)."""
        n = len(self.leaderboard)
        by_state = self.leaderboard["state"].value_counts().to_dict() if n else {}
        states = ", ".join(f"{v} {k.lower()}" for k, v in by_state.items())
        return "\n".join(
            [
                f"Best: {self.best_framework} / {self.best_model_family}  "
                f"{self.metric.display_name} = {self.best_metric_value:.5g} ({self.validation})",
                f"Trials: {n} ({states}) in {self.elapsed_seconds:.1f}s of a {self.time_budget:g}s budget",
                f"Final model: {self.refit}",
                *([f"Which framework: {self.framework_report().verdict}"] if verdict else []),
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
        drop = [c for c in ("params", "fold_scores") if c in self.leaderboard]
        board = self.leaderboard.drop(columns=drop).head(15).to_html(index=False, na_rep="")
        return (
            "<div><b>AutoML result</b><pre>" + self.summary().replace("<", "&lt;") + "</pre>"
            + self.framework_report()._repr_html_() + board + self.recommendation._repr_html_() + "</div>"
        )


def member_frameworks(result: Any) -> str | list[str]:
    """The framework of each of a result's best-model members, in order: ensemble members (each
    k-fold bag's folds in turn), a single bag's folds, or the one framework."""
    if result.ensemble:
        return [m["framework"] for m in result.ensemble for _ in range(int(m.get("folds", 1)))]
    members = getattr(result.best_model, "members", None)
    if isinstance(members, list):
        return [result.best_framework] * len(members)
    return result.best_framework
