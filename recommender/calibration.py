"""Measured GPU figures that replace the cost model's assumed ones (written by ``make gpu-check``).

``benchmarks.gpu_check`` fits the networks and XGBoost on a GPU and writes a calibration file;
:mod:`recommender.cost` asks this module for the measured figures and falls back to its constants
when there are none. Files are looked for, first found wins:

1. ``$AUTOML_GPU_CALIBRATION`` (a path; set it to ``none`` to ignore every file);
2. ``gpu_calibration.json`` in the user cache (``$XDG_CACHE_HOME/automl``, else ``~/.cache/automl``):
   what ``make gpu-check`` measured on this user's GPU;
3. ``recommender/gpu_calibration.json`` beside this module: a reference measurement shipped with the
   package (``make gpu-check ARGS=--ship``), so a machine without a GPU can quote a measured figure
   in its counterfactual. None ships until a GPU run has produced one.

A network's GPU epoch is modelled as ``rows x flops_per_row / flops + batches x batch_seconds``;
with two measured batch sizes both terms are fitted, with one only the per-batch seconds (the
throughput stays assumed). A malformed file gives a warning naming it and is ignored.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_VAR = "AUTOML_GPU_CALIBRATION"
FILE_NAME = "gpu_calibration.json"
SCHEMA = 1
SHIPPED = Path(__file__).with_name(FILE_NAME)


@dataclass(frozen=True)
class NetworkCalibration:
    """One framework's measured GPU epoch model (``flops`` None: the throughput was not separable)."""

    batch_seconds: float
    flops: float | None


@dataclass(frozen=True)
class GPUCalibration:
    gpu: str
    date: str
    path: str
    networks: dict[str, NetworkCalibration] = field(default_factory=dict)
    #: Measured GPU speedup of a tree learner's fit over one CPU core (the cost model's unit).
    tree_speedups: dict[str, float] = field(default_factory=dict)

    @property
    def basis(self) -> str:
        return f"measured on {self.gpu} by make gpu-check on {self.date}"


def user_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "automl" / FILE_NAME


def candidate_paths() -> list[Path]:
    """Where a calibration is looked for, in order (the variable, the user cache, the shipped file)."""
    explicit = os.environ.get(ENV_VAR)
    if explicit is not None:
        return [] if explicit.strip().lower() in ("", "none", "0") else [Path(explicit).expanduser()]
    return [user_cache_path(), SHIPPED]


def fit_network(points: list[dict[str, Any]]) -> NetworkCalibration:
    """Least squares of ``seconds_per_epoch = rows*flops_per_row/flops + rows/batch_size*batch_seconds``
    over the measured points (non-negative terms; one batch size: per-batch seconds only)."""
    rows = [(p["rows"] * p["flops_per_row"], p["rows"] / p["batch_size"], p["seconds_per_epoch"]) for p in points]
    for work, batches, seconds in rows:
        if not (work > 0 and batches > 0 and seconds > 0 and math.isfinite(seconds)):
            raise ValueError("every point needs rows, flops_per_row, batch_size and seconds_per_epoch above 0")
    if len({round(b, 6) for _, b, _ in rows}) >= 2:
        saa = sum(w * w for w, _, _ in rows)
        sbb = sum(b * b for _, b, _ in rows)
        sab = sum(w * b for w, b, _ in rows)
        say = sum(w * t for w, _, t in rows)
        sby = sum(b * t for _, b, t in rows)
        det = saa * sbb - sab * sab
        if det > 0:
            a = (say * sbb - sby * sab) / det
            o = (sby * saa - say * sab) / det
            if a > 0 and o > 0:
                return NetworkCalibration(batch_seconds=o, flops=1.0 / a)
    # Per-batch seconds alone (the GPU finishes a small network's arithmetic far faster than it
    # launches kernels): the mean over the points.
    return NetworkCalibration(batch_seconds=sum(t / b for _, b, t in rows) / len(rows), flops=None)


def parse(data: Any, path: str) -> GPUCalibration:
    """A calibration from the JSON ``gpu_check`` writes; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("the top level must be a JSON object")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"'schema' must be {SCHEMA}, got {data.get('schema')!r}")
    gpu, date = data.get("gpu"), data.get("date")
    if not isinstance(gpu, str) or not gpu or not isinstance(date, str) or not date:
        raise ValueError("'gpu' and 'date' must be non-empty strings")
    networks = {}
    for name, points in (data.get("networks") or {}).items():
        if not isinstance(points, list) or not points:
            raise ValueError(f"'networks.{name}' must be a non-empty list of measured points")
        try:
            networks[name] = fit_network(points)
        except (KeyError, TypeError) as e:
            raise ValueError(f"'networks.{name}': a point lacks {e}") from e
    speedups = {}
    for name, value in (data.get("tree_speedups") or {}).items():
        if not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
            raise ValueError(f"'tree_speedups.{name}' must be a number above 0, got {value!r}")
        speedups[name] = float(value)
    return GPUCalibration(gpu=gpu, date=date, path=path, networks=networks, tree_speedups=speedups)


_CACHE: dict[tuple[str, int, int], GPUCalibration | None] = {}


def _read(path: Path) -> GPUCalibration | None:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        try:
            _CACHE[key] = parse(json.loads(path.read_text()), str(path))
        except (OSError, ValueError) as e:  # json.JSONDecodeError is a ValueError
            warnings.warn(
                f"GPU calibration {path} is unusable ({e}); the cost model uses its assumed GPU figures. "
                f"Fix: rerun `make gpu-check` on a GPU machine, or delete the file (or set {ENV_VAR}=none).",
                stacklevel=3,
            )
            _CACHE[key] = None
    return _CACHE[key]


def load_calibration() -> GPUCalibration | None:
    """The first calibration file found (see the module docstring), or None."""
    for path in candidate_paths():
        if path.is_file():
            return _read(path)
    return None


def gpu_epoch_seconds(framework: str, work: float, batches: float, assumed_flops: float) -> float | None:
    """A measured GPU epoch of ``work`` floating-point operations in ``batches`` mini-batches for
    ``framework``'s networks (the assumed throughput where only the per-batch seconds were
    separable); None without a calibration for it."""
    cal = load_calibration()
    net = None if cal is None else cal.networks.get(framework)
    if net is None:
        return None
    return work / (net.flops or assumed_flops) + batches * net.batch_seconds


def gpu_epoch_basis(framework: str) -> str | None:
    """"measured on <GPU> by make gpu-check on <date>" when ``framework``'s networks are calibrated."""
    cal = load_calibration()
    return cal.basis if cal is not None and framework in cal.networks else None


def tree_gpu_speedup(framework: str, assumed: float) -> tuple[float, str]:
    """The GPU speedup of a tree learner over one CPU core, and in words where it comes from."""
    cal = load_calibration()
    if cal is not None and framework in cal.tree_speedups:
        value = cal.tree_speedups[framework]
        return value, f"{value:.2g}x faster ({cal.basis})"
    return assumed, f"assumed {assumed:.0f}x faster"
