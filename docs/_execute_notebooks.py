"""Executes the example notebooks into docs/notebooks/, so the site shows them with their outputs.

The site renders these copies without running them (mkdocs-jupyter, ``execute: false``), which
keeps ``make docs`` fast and offline. Rerun this after changing a notebook in ``examples/``:

    .venv/bin/python docs/_execute_notebooks.py            # all three
    .venv/bin/python docs/_execute_notebooks.py quickstart.ipynb

Each notebook runs in a fresh ``python3`` kernel whose working directory is a temporary folder,
with this checkout of ``automl`` on its path and the budgets the notebooks set themselves.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
OUT = REPO / "docs" / "notebooks"
NOTEBOOKS = ["quickstart.ipynb", "recommend_only.ipynb", "compare_frameworks.ipynb"]
#: A line's text up to its last carriage return, which a terminal or Jupyter overwrites.
OVERWRITTEN = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)


def coalesce_streams(cell: nbformat.NotebookNode) -> None:
    """Joins consecutive stream outputs and keeps what a carriage return leaves on each line.

    The progress bar redraws itself with ``\\r`` many times a second; Jupyter shows the last state,
    and so does the saved copy instead of one output per redraw.
    """
    merged: list[nbformat.NotebookNode] = []
    for out in cell.get("outputs", []):
        last = merged[-1] if merged else None
        if out.output_type == "stream" and last is not None and last.output_type == "stream" and (
            last.name == out.name
        ):
            last.text += out.text
        else:
            merged.append(out)
    for out in merged:
        if out.output_type == "stream":
            out.text = OVERWRITTEN.sub("", out.text.replace("\r\n", "\n"))
    cell.outputs = merged


def execute(name: str) -> Path:
    """Runs ``examples/<name>`` top to bottom and writes the executed copy to docs/notebooks/."""
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as workdir:
        client = nbclient.NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": workdir}}
        )
        client.execute()
    # Execution times and widget state change on every run and mean nothing to a reader.
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            coalesce_streams(cell)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    nbformat.write(nb, path)
    return path


def main(argv: list[str]) -> int:
    for name in argv or NOTEBOOKS:
        start = time.monotonic()
        path = execute(name)
        print(f"{path.relative_to(REPO)}: {time.monotonic() - start:.0f} s, {path.stat().st_size / 1024:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
