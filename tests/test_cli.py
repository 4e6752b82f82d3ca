"""The command line: every command on a real CSV, exit codes, outputs, and errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from automl.cli import main
from tests.conftest import make_frame


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # `run` writes its run directory under the working directory


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    make_frame("binary", n=150).to_csv(path, index=False)
    return path


def test_run_prints_every_section(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(csv), "--target", "y", "--time-budget", "20", "--n-trials", "3"]) == 0
    out = capsys.readouterr().out
    for section in ("== Hardware ==", "== Dataset ==", "Recommendation", "== Leaderboard", "== Best model =="):
        assert section in out


def test_run_json(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(csv), "--target", "y", "--time-budget", "20", "--n-trials", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["best_framework"] in {"sklearn", "xgboost", "lightgbm", "catboost"} and len(data["leaderboard"]) == 2


def test_recommend_profile_doctor(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(csv), "--target", "y"]) == 0
    assert "Recommendation" in capsys.readouterr().out
    assert main(["profile", str(csv), "--target", "y", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "binary"
    assert main(["doctor"]) == 0
    assert "sklearn" in capsys.readouterr().out


def test_recommend_refuses_a_zero_budget_instead_of_planning_for_60(
    csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recommend", str(csv), "--target", "y", "--time-budget", "0"]) == 2
    assert "time_budget" in capsys.readouterr().err


def test_dev_suite_csv(dev_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = dev_suite / "penguins.csv.gz"
    assert main(["profile", str(path), "--target", "species"]) == 0
    assert "multiclass" in capsys.readouterr().out
    assert main(["recommend", str(path), "--target", "species", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["candidates"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "missing.csv", "--target", "y"], "does not exist"),
        (["run", "{csv}", "--target", "nope"], "target='nope' is not a column"),
        (["run", "{csv}", "--target", "y", "--time-budget", "-1"], "time_budget must be a positive"),
        (["run", "{csv}", "--target", "y", "--frameworks", "nope"], "unknown framework"),
        (["quick-run", "{csv}"], "needs --target"),
    ],
)
def test_user_errors_exit_2_without_traceback(csv: Path, argv: list[str], message: str) -> None:
    argv = [a.replace("{csv}", str(csv)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "automl", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    assert main(["profile", str(bad), "--target", "y"]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "quick-run", "recommend", "profile", "predict", "doctor"])
def test_help_shows_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out


@pytest.mark.slow
def test_quick_run_without_arguments_uses_bundled_data() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "automl", "quick-run", "--time-budget", "20", "--n-trials", "3"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "breast-cancer" in proc.stdout and "== Best model ==" in proc.stdout


def test_run_writes_a_run_directory_and_predict_reads_it(
    tmp_path: Path, csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run1"
    argv = ["run", str(csv), "--target", "y", "--time-budget", "20", "--n-trials", "4", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"Saved: {out}" in printed and "automl predict" in printed
    assert (out / "manifest.json").is_file() and (out / "study.db").is_file()
    assert {p.name for p in (out / "plots").glob("*.png")} == {"history.png", "fit_time.png", "importance.png"}
    new = make_frame("binary", n=40, seed=3).drop(columns="y")
    for suffix in (".csv", ".parquet", ".feather"):
        data, pred = tmp_path / f"new{suffix}", tmp_path / f"pred{suffix}"
        getattr(new, {".csv": "to_csv", ".parquet": "to_parquet", ".feather": "to_feather"}[suffix])(data)
        assert main(["predict", str(out), str(data), "--out", str(pred), "--proba"]) == 0
        from automl.io import read_table

        got = read_table(str(pred))
        assert len(got) == 40 and list(got.columns) == ["prediction", "proba_no", "proba_yes"]
        assert set(got["prediction"]) <= {"yes", "no"}
    assert "Wrote 40 predictions" in capsys.readouterr().out
    # the run directory is not overwritten
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err


def test_run_without_out_saves_under_automl_runs(tmp_path: Path, csv: Path) -> None:
    assert main(["run", str(csv), "--target", "y", "--time-budget", "20", "--n-trials", "2", "--json"]) == 0
    runs = list((tmp_path / "automl-runs").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("data-") and (runs[0] / "manifest.json").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "nowhere", "{csv}", "--out", "p.csv"], "does not exist"),
        (["predict", "{tmp}", "{csv}", "--out", "p.csv"], "has no manifest.json"),
    ],
)
def test_predict_errors(tmp_path: Path, csv: Path, argv: list[str], message: str) -> None:
    argv = [a.replace("{csv}", str(csv)).replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "automl", *argv], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "p.csv").exists()


def test_parquet_and_feather_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = make_frame("regression", n=80)
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_feather(tmp_path / "d.feather")
    for name in ("d.parquet", "d.feather"):
        assert main(["profile", str(tmp_path / name), "--target", "y", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["task"] == "regression"


def test_ctrl_c_in_main_called_in_process_returns_130_and_keeps_the_sigint_handler(
    csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the command itself ignores a further Ctrl-C on its way out; a caller's process keeps its handler."""
    import signal

    import automl

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(automl, "recommend", interrupted)
    before = signal.getsignal(signal.SIGINT)
    assert main(["recommend", str(csv), "--target", "y"]) == 130
    assert signal.getsignal(signal.SIGINT) is before
