"""A simple cost model: predicted seconds for one model fit of a framework on this data and hardware.

Stated assumptions (a learned model replaces the constants later; the interface stays):
- tree learners: cost grows linearly with the number of cells (rows x encoded features);
  ``SECONDS_PER_MILLION_CELLS`` is a default-sized model fit on one core, scaled by the adapter's
  ``relative_cost``; a GPU speeds XGBoost up ``GPU_SPEEDUP`` times above ``GPU_MIN_CELLS`` cells;
- networks: ``ASSUMED_EPOCHS`` epochs of a 2-layer, 128-unit MLP; an epoch costs
  6 x (width x 128 + 128^2) floating-point operations per row at ``CPU_FLOPS_PER_CORE`` per core
  (``GPU_FLOPS`` on a GPU), plus the framework's fixed cost per mini-batch of ``BATCH_SIZE`` rows.
- the GPU figures are replaced by measured ones where ``make gpu-check`` wrote a calibration
  (:mod:`recommender.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass

from recommender.calibration import gpu_epoch_seconds, tree_gpu_speedup
from recommender.hardware import HardwareProfile
from recommender.profile import DatasetProfile
from search_spaces import FrameworkAdapter

SECONDS_PER_MILLION_CELLS = 2.0
FIXED_SECONDS = 0.15
GPU_SPEEDUP = 5.0
GPU_MIN_CELLS = 1_000_000
#: One-hot and TF-IDF expand columns; this is the average expansion assumed per kind.
EXPANSION = {"categorical": 4.0, "text": 50.0, "datetime": 6.0}
ASSUMED_EPOCHS = 30
HIDDEN = 128
BATCH_SIZE = 128
CPU_FLOPS_PER_CORE = 4e9
GPU_FLOPS = 2e12
GPU_BATCH_OVERHEAD_FACTOR = 1.5


@dataclass(frozen=True)
class CostEstimate:
    seconds: float
    device: str
    explanation: str
    seconds_per_epoch: float | None = None


def encoded_width(profile: DatasetProfile) -> float:
    width = sum(EXPANSION.get(c.kind, 1.0) for c in profile.columns if c.action != "drop")
    return max(width, 1.0)


def encoded_cells(profile: DatasetProfile) -> float:
    return profile.n_rows * encoded_width(profile)


def epoch_seconds(
    adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, device: str, threads: int = 1
) -> float:
    """Predicted seconds for one epoch of the default network on this data and device."""
    flops_per_row = 6.0 * (encoded_width(profile) * HIDDEN + HIDDEN * HIDDEN)
    cores = max(1, min(threads, hardware.physical_cores))
    throughput = GPU_FLOPS if device == "cuda" else CPU_FLOPS_PER_CORE * cores
    batches = max(1.0, profile.n_rows / BATCH_SIZE)
    if device == "cuda":
        measured = gpu_epoch_seconds(adapter.name, profile.n_rows * flops_per_row, batches, GPU_FLOPS)
        if measured is not None:
            return measured
    overhead = adapter.batch_overhead_seconds * (GPU_BATCH_OVERHEAD_FACTOR if device == "cuda" else 1.0)
    return profile.n_rows * flops_per_row / throughput + batches * overhead


def estimate_fit_seconds(
    adapter: FrameworkAdapter,
    profile: DatasetProfile,
    hardware: HardwareProfile,
    device: str,
    threads: int = 1,
) -> CostEstimate:
    if adapter.network:
        per_epoch = epoch_seconds(adapter, profile, hardware, device, threads)
        where = "the GPU" if device == "cuda" else f"{max(1, min(threads, hardware.physical_cores))} CPU core(s)"
        seconds = FIXED_SECONDS * 4 + ASSUMED_EPOCHS * per_epoch
        why = f"~{per_epoch:.2f} s per epoch on {where} x {ASSUMED_EPOCHS} epochs"
        return CostEstimate(seconds, device, why, per_epoch)
    cells = encoded_cells(profile)
    seconds = FIXED_SECONDS + SECONDS_PER_MILLION_CELLS * adapter.relative_cost * cells / 1e6
    why = f"~{cells / 1e6:.2f}M encoded cells x {adapter.relative_cost:.1f} relative cost"
    if device == "cuda":
        speedup, basis = tree_gpu_speedup(adapter.name, GPU_SPEEDUP)
        seconds = FIXED_SECONDS + (seconds - FIXED_SECONDS) / speedup
        why += f", GPU {basis}"
    return CostEstimate(seconds=seconds, device=device, explanation=why)


def gpu_pays(profile: DatasetProfile) -> bool:
    return encoded_cells(profile) >= GPU_MIN_CELLS
