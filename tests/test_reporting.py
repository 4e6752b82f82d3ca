"""Plots, live progress and MLflow logging of a result."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import pytest

import automl
from automl import _progress
from automl.report._plots import DPI, FIGSIZE, save_plots
from tests.conftest import make_frame


@pytest.fixture
def fitted(binary_search: tuple[automl.AutoMLResult, pd.DataFrame]) -> tuple[automl.AutoMLResult, pd.DataFrame]:
    return binary_search


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plots_are_written_as_pngs_of_the_expected_size(fitted: tuple, tmp_path: Path) -> None:
    result, df = fitted
    written = save_plots(result, tmp_path, data=df)
    assert sorted(p.name for p in written) == ["fit_time.png", "history.png", "importance.png"]
    for path in written:
        assert path.stat().st_size > 5_000, f"{path.name} looks empty"
        assert _png_size(path) == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))


def test_plot_functions_return_figures_with_one_series_per_framework(fitted: tuple) -> None:
    result, df = fitted
    fig = result.plot_history()
    labels = set(fig.axes[0].get_legend_handles_labels()[1])
    assert labels == set(result.leaderboard.query("state == 'COMPLETE'")["framework"]) | {"best so far"}
    assert result.plot_fit_time().axes[0].get_xscale() == "log"
    imp = result.permutation_importance(df, n_repeats=2)
    assert set(imp["feature"]) == set(result.feature_columns)
    assert imp["importance"].iloc[0] == imp["importance"].max() > 0  # x1 carries the signal
    bars = result.plot_importance(df, n_repeats=2).axes[0].patches
    assert len(bars) == len(result.feature_columns)


def test_importance_needs_the_target(fitted: tuple) -> None:
    result, df = fitted
    with pytest.raises(automl.InputError, match="target column 'y'"):
        result.permutation_importance(df.drop(columns="y"))


def test_optuna_visualisations_reach_the_study(fitted: tuple) -> None:
    pytest.importorskip("plotly")
    import optuna

    fig = optuna.visualization.plot_optimization_history(fitted[0].study)
    assert fig.data


# -- progress -------------------------------------------------------------------------------------
@pytest.fixture
def automl_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="automl")
    return caplog


def _progress_lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "automl" and r.levelno >= level]


@pytest.mark.parametrize("verbosity", [0, 1, 2])
def test_verbosity_levels_in_plain_output(verbosity: int, automl_logs: pytest.LogCaptureFixture) -> None:
    df = make_frame("binary", n=120)
    automl.fit(df, "y", time_budget=20, n_trials=4, frameworks=["sklearn"], verbosity=verbosity)
    info = _progress_lines(automl_logs)
    progress = [m for m in info if m.startswith("progress:")]
    per_trial = [m for m in info if m.startswith("trial ")]
    if verbosity == 0:
        assert not progress and not per_trial
    else:
        assert progress, "a progress line at the first best score at least"
        assert "trials, best roc_auc" in progress[0] and "s left" in progress[0]
        assert bool(per_trial) == (verbosity == 2)


def test_verbosity_is_checked() -> None:
    with pytest.raises(automl.InputError, match="verbosity must be 0, 1 or 2"):
        automl.fit(make_frame("binary"), "y", verbosity=5)


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(_progress, "_interactive", lambda: True)
    bar = _progress.Progress(10, time.monotonic(), 1, "roc_auc")
    bar.trial_started("xgboost")
    bar.trial_finished(0.91234, "xgboost/gbtree")
    bar.close()
    err = capsys.readouterr().err
    assert "now xgboost" in err and "1 trials, best roc_auc 0.91234 (xgboost/gbtree)" in err and "s left" in err


def test_log_output_respects_configured_logging(capsys: pytest.CaptureFixture[str]) -> None:
    """With no handler anywhere, fit shows its lines on stderr; verbosity 0 shows none."""
    logger = logging.getLogger("automl")
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    try:
        with _progress.log_output(1):
            logger.info("hello from the search")
        with _progress.log_output(0):
            logger.info("not shown")
    finally:
        root.handlers = saved
    err = capsys.readouterr().err
    assert "hello from the search" in err and "not shown" not in err
    assert not logger.handlers, "the temporary handler is removed"


# -- MLflow -----------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "file"])
def test_mlflow_logs_each_trial_and_the_model(
    fitted: tuple, tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = pytest.importorskip("mlflow")
    from automl.report import log_to_mlflow

    monkeypatch.chdir(tmp_path)  # MLflow puts artifacts under ./mlruns by default
    if store == "file":
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind a flag
        uri = (tmp_path / "mlruns").as_uri()
    else:
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = fitted[0]
    run_id = log_to_mlflow(result, tracking_uri=uri, experiment="tests")
    client = mlflow.MlflowClient(tracking_uri=uri)
    parent = client.get_run(run_id)
    assert parent.data.tags["automl.best_framework"] == result.best_framework
    assert parent.data.metrics[f"best_{result.metric.display_name}"] == pytest.approx(result.best_metric_value)
    experiment = client.get_experiment_by_name("tests")
    children = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'", max_results=1000
    )
    assert len(children) == len(result.leaderboard)
    assert {c.data.params["framework"] for c in children} == set(result.leaderboard["framework"])
    artifacts = {a.path for a in client.list_artifacts(run_id, "run")}
    assert "run/manifest.json" in artifacts and "run/model" in artifacts
    local = Path(client.download_artifacts(run_id, "run", str(tmp_path / "dl")))
    reloaded = automl.load(local)
    df = fitted[1]
    pd.testing.assert_series_equal(reloaded.predict(df), result.predict(df))
