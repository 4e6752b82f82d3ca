"""A simple cost model: predicted seconds for one model fit of a framework on this data and hardware.

Stated assumptions (a learned model replaces the constants later; the interface stays):
- tree learners: cost grows linearly with the number of cells (rows x encoded features);
  ``SECONDS_PER_MILLION_CELLS`` is a default-sized model fit on one core, scaled by the adapter's
  ``relative_cost``; a GPU speeds XGBoost up ``GPU_SPEEDUP`` times above ``GPU_MIN_CELLS`` cells;
- networks: ``ASSUMED_EPOCHS`` epochs of each default architecture the framework enqueues first
  (:data:`ENQUEUED_NETWORKS`; a 2-layer, 128-unit MLP for any other network framework); an epoch
  costs 6 x members x (input width x units + (layers - 1) x units^2) floating-point operations per
  row at ``CPU_FLOPS_PER_CORE`` per core (``GPU_FLOPS`` on a GPU), plus the framework's fixed cost
  per mini-batch of ``BATCH_SIZE`` rows. Periodic numeric embeddings widen the input
  (``input_factor``); TabM's ``k`` members each run the whole MLP on every row (tabm-mini shares
  the weights, not the work). A trial of such a framework costs the mean of its defaults' fits.
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
class NetworkShape:
    """What one epoch of a network costs per row: ``members`` x an MLP of ``layers`` x ``units``
    whose input is the encoded width x ``input_factor``."""

    name: str
    units: int = HIDDEN
    layers: int = 2
    input_factor: float = 1.0
    members: int = 1

    def flops_per_row(self, width: float) -> float:
        return 6.0 * self.members * (width * self.input_factor * self.units + (self.layers - 1) * self.units ** 2)


PLAIN_MLP = NetworkShape("MLP")
#: The defaults a framework's search enqueues first, in order (``TorchAdapter.default_configs``:
#: RealMLP-TD 3 x 256 with periodic embeddings of 4 values per numeric column, TabM-mini k=32
#: 3 x 256 with the same embeddings, then the plain MLP); a test keeps this in step with the adapter.
ENQUEUED_NETWORKS: dict[str, tuple[NetworkShape, ...]] = {
    "torch": (NetworkShape("RealMLP", 256, 3, 4.0), NetworkShape("TabM", 256, 3, 4.0, 32), PLAIN_MLP),
}


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


def network_shapes(adapter: FrameworkAdapter) -> tuple[NetworkShape, ...]:
    """The architectures a network framework's search starts with (:data:`ENQUEUED_NETWORKS`)."""
    return ENQUEUED_NETWORKS.get(adapter.name, (PLAIN_MLP,))


def epoch_seconds(
    adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, device: str, threads: int = 1,
    shape: NetworkShape | None = None,
) -> float:
    """Predicted seconds for one epoch of ``shape`` (default: the mean over the framework's enqueued
    defaults) on this data and device."""
    if shape is None:
        shapes = network_shapes(adapter)
        return sum(epoch_seconds(adapter, profile, hardware, device, threads, s) for s in shapes) / len(shapes)
    flops_per_row = shape.flops_per_row(encoded_width(profile))
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
        shapes = network_shapes(adapter)
        epochs = [epoch_seconds(adapter, profile, hardware, device, threads, s) for s in shapes]
        per_epoch = sum(epochs) / len(epochs)
        where = "the GPU" if device == "cuda" else f"{max(1, min(threads, hardware.physical_cores))} CPU core(s)"
        seconds = FIXED_SECONDS * 4 + ASSUMED_EPOCHS * per_epoch
        why = f"~{per_epoch:.2g} s per epoch on {where} x {ASSUMED_EPOCHS} epochs"
        if len(shapes) > 1:
            fits = [FIXED_SECONDS * 4 + ASSUMED_EPOCHS * e for e in epochs]
            each = ", ".join(f"{s.name} ~{f:.2g} s" for s, f in zip(shapes, fits, strict=True))
            why += f"; the mean of the defaults enqueued first ({each} per fit)"
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
