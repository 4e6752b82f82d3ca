"""The command line: every command on a real CSV, exit codes, outputs, and errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from automl.cli import main
from tests.conftest import make_frame


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
    assert data["best_framework"] in {"sklearn", "xgboost"} and len(data["leaderboard"]) == 2


def test_recommend_profile_doctor(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(csv), "--target", "y"]) == 0
    assert "Recommendation" in capsys.readouterr().out
    assert main(["profile", str(csv), "--target", "y", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "binary"
    assert main(["doctor"]) == 0
    assert "sklearn" in capsys.readouterr().out


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


@pytest.mark.parametrize("command", ["run", "quick-run", "recommend", "profile", "doctor"])
def test_help_shows_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out


def test_quick_run_without_arguments_uses_bundled_data() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "automl", "quick-run", "--time-budget", "20", "--n-trials", "3"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "breast-cancer" in proc.stdout and "== Best model ==" in proc.stdout
