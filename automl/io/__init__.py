"""Files in and out: tables (CSV, Parquet, Feather), run directories and saved models."""

from automl.io._errors import RunDirectoryError
from automl.io._models import load_model, save_model
from automl.io._run_dir import load_run, load_study, read_manifest, save_run
from automl.io._tables import demo_frame, read_table, write_table

__all__ = [
    "RunDirectoryError",
    "demo_frame",
    "load_model",
    "load_run",
    "load_study",
    "read_manifest",
    "read_table",
    "save_model",
    "save_run",
    "write_table",
]
