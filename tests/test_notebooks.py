"""The example notebooks run top to bottom with a small budget and show their rich outputs.

Each notebook is executed by a fresh ``python3`` kernel (nbclient) whose working directory is a
temporary folder, with its ``parameters`` cell replaced by a smaller ``BUDGET``. The executed copy
is written next to it (``<tmp_path>/<name>``) so a failure can be read with its outputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
NOTEBOOKS = ["quickstart.ipynb", "recommend_only.ipynb", "compare_frameworks.ipynb"]
#: The networks' frameworks (TensorFlow above all) take seconds to load: the keras search needs
#: about twice that left when its first trial starts, hence a larger budget for the comparison.
BUDGETS = {"quickstart.ipynb": 4, "recommend_only.ipynb": 10, "compare_frameworks.ipynb": 10}
COMPARED = ["sklearn", "xgboost", "torch", "keras"]


def _parameters_cell(nb: Any) -> Any:
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cell"
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    assert code[0].source.startswith("BUDGET = "), "the first code cell must define BUDGET"
    return code[0]


def _execute(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    _parameters_cell(nb).source = f"BUDGET = {BUDGETS[name]}"
    # The kernel imports this checkout of automl even where the project is not installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    try:
        client.execute()
    finally:
        nbformat.write(nb, tmp_path / name)
    assert not any(workdir.iterdir()), f"the notebook wrote into its working directory: {list(workdir.iterdir())}"
    return nb


def _outputs(nb: Any) -> list[Any]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _mime(nb: Any, mime: str) -> list[str]:
    return [o["data"][mime] for o in _outputs(nb) if mime in o.get("data", {})]


def _stderr(nb: Any) -> str:
    return "".join(o.get("text", "") for o in _outputs(nb) if o.output_type == "stream" and o.name == "stderr")


def _check_common(nb: Any) -> None:
    errors = [o for o in _outputs(nb) if o.output_type == "error"]
    assert not errors, f"{errors[0].ename}: {errors[0].evalue}"
    assert "Traceback" not in _stderr(nb), _stderr(nb)[-2000:]
    assert _mime(nb, "text/html"), "no rich HTML output"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_clean(name: str) -> None:
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    _parameters_cell(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {cell.id} holds outputs"


@pytest.mark.slow
def test_quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute("quickstart.ipynb", tmp_path, monkeypatch)
    _check_common(nb)
    assert any("AutoML result" in h for h in _mime(nb, "text/html"))
    assert len(_mime(nb, "image/png")) >= 2  # history and importance
    text = "".join(o.get("text", "") for o in _outputs(nb) if o.output_type == "stream")
    assert "holdout accuracy" in text
    assert "identical predictions after loading: True" in text


@pytest.mark.slow
def test_recommend_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute("recommend_only.ipynb", tmp_path, monkeypatch)
    _check_common(nb)
    html = "".join(_mime(nb, "text/html"))
    for part in ("Hardware", "Dataset profile", "Recommendation"):
        assert part in html
    assert "regression" in html  # the diabetes profile


@pytest.mark.slow
def test_compare_frameworks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from automl import hardware

    frameworks = hardware().frameworks
    installed = [f for f in COMPARED if f in frameworks and frameworks[f].installed]
    if not {"sklearn", "xgboost"} <= set(installed):
        pytest.skip("scikit-learn and XGBoost are required dependencies; this environment lacks one")
    nb = _execute("compare_frameworks.ipynb", tmp_path, monkeypatch)
    _check_common(nb)
    assert _mime(nb, "image/png"), "no plot"
    table = next(o for c in nb.cells if c.get("id") == "table" for o in c.outputs if "text/html" in o.get("data", {}))
    for name in [*installed, "all"]:
        assert f"<td>{name}</td>" in table["data"]["text/html"], f"{name} missing from the comparison table"
    text = "".join(o.get("text", "") for o in _outputs(nb) if o.output_type == "stream")
    for name in set(COMPARED) - set(installed):
        assert f"{name} is not installed here" in text
