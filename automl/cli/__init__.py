"""The ``automl`` command line: thin wrappers over the Python API."""

from automl.cli._main import main
from automl.cli._parser import build_parser

__all__ = ["build_parser", "main"]
