"""Reading and writing tables by file extension: CSV (optionally compressed), Parquet, Feather."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from automl.errors import UserError

#: Delimiters tried when a CSV file read with commas gives one column whose name holds one of them.
OTHER_DELIMITERS = (";", "\t", "|")
COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")


def read_table(path: str, *, allow_empty: bool = False) -> pd.DataFrame:
    """Read CSV (optionally compressed), Parquet or Feather, by file extension.

    A CSV that reads as one column whose name holds ``;``, a tab or ``|`` is read again with
    that delimiter (European and tab-separated exports). A file with no rows is an error unless
    ``allow_empty`` (predicting on no rows writes no predictions).
    """
    p = Path(path)
    if not p.exists():
        raise UserError(f"DATA file {path!r} does not exist")
    if p.is_dir():
        raise UserError(f"DATA {path!r} is a directory, not a file; pass a CSV, Parquet or Feather file")
    if not p.is_file():
        raise UserError(
            f"DATA {path!r} is not a regular file (a device or a pipe); pass a CSV, Parquet or Feather file"
        )
    suffixes = [s.lower() for s in p.suffixes]
    try:
        if ".parquet" in suffixes or ".pq" in suffixes:
            frame = pd.read_parquet(p)
        elif ".feather" in suffixes:
            frame = pd.read_feather(p)
        else:
            frame = pd.read_csv(p)
            if frame.shape[1] == 1:
                header = str(frame.columns[0])
                sep = max(OTHER_DELIMITERS, key=header.count)
                if header.count(sep):
                    logging.getLogger("automl").info("%s has one comma-separated column: read with %r", p.name, sep)
                    frame = pd.read_csv(p, sep=sep)
    except ImportError as e:
        raise UserError(f"reading {p.name} needs an extra package: {e} (pip install pyarrow)") from e
    except pd.errors.EmptyDataError as e:
        raise UserError(f"DATA file {path!r} is empty; it needs a header line and rows") from e
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as e:
        raise UserError(f"could not read {path!r} as a table: {e}") from e
    if len(frame) == 0:
        if allow_empty:
            return frame
        raise UserError(f"DATA file {path!r} has column names but no rows; it needs rows of data")
    if not ({".parquet", ".pq", ".feather", *COMPRESSED} & set(suffixes)):
        _warn_if_truncated(p, frame)
    return frame


def _warn_if_truncated(p: Path, frame: pd.DataFrame) -> None:
    """A CSV cut off mid-row reads without error (the row's last fields become missing): say so."""
    with open(p, "rb") as f:
        f.seek(-1, 2)
        ends_with_newline = f.read(1) in (b"\n", b"\r")
    if not ends_with_newline and pd.isna(frame.iloc[-1, -1]):
        logging.getLogger("automl").warning(
            "%s does not end with a line break and its last row lacks values: the file looks truncated; "
            "check it (that row is kept, its missing values are imputed)", p.name,
        )


def demo_frame() -> tuple[pd.DataFrame, str]:
    """scikit-learn's bundled breast-cancer data: no download needed."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    return frame, "target"


def write_table(frame: pd.DataFrame, path: str) -> None:
    """Write CSV, Parquet or Feather by extension, atomically (no partial file on failure)."""
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    if p.parent and not p.parent.exists():
        raise UserError(f"the folder of --out {path!r} does not exist; create it first")
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        if ".parquet" in suffixes or ".pq" in suffixes:
            frame.to_parquet(tmp, index=False)
        elif ".feather" in suffixes:
            frame.reset_index(drop=True).to_feather(tmp)
        else:
            frame.to_csv(tmp, index=False)
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)
