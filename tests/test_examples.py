"""Every example is a runnable file; each runs here with a small budget."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    "script, args, expect",
    [("quickstart.py", ["8"], "holdout accuracy"), ("recommend_only.py", [], "Recommendation")],
)
@pytest.mark.slow
def test_example_runs(script: str, args: list[str], expect: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expect in proc.stdout
