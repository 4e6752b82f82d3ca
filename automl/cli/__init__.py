"""The ``automl`` command line: thin wrappers over the Python API."""

from automl.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
