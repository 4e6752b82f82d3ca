"""Files in and out: tables (CSV, Parquet, Feather), run directories and saved models."""

from automl.io._persistence import (
    RunDirectoryError,
    load_model,
    load_result,
    load_study,
    read_manifest,
    save_model,
    save_result,
)
from automl.io._tables import demo_frame, read_table, write_table

__all__ = [
    "RunDirectoryError",
    "demo_frame",
    "load_model",
    "load_result",
    "load_study",
    "read_manifest",
    "read_table",
    "save_model",
    "save_result",
    "write_table",
]
