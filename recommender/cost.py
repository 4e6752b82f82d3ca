"""A simple cost model: predicted seconds for one model fit of a framework on this data and hardware.

Stated assumptions (a learned model replaces the constants later; the interface stays):
- cost grows linearly with the number of cells (rows x encoded features);
- ``SECONDS_PER_MILLION_CELLS`` is a default-sized model fit on one core of a 2-core CPU,
  scaled by the adapter's ``relative_cost``;
- a GPU speeds XGBoost up ``GPU_SPEEDUP`` times above ``GPU_MIN_CELLS`` cells; below that, data
  transfer and kernel launches eat the gain.
"""

from __future__ import annotations

from dataclasses import dataclass

from recommender.hardware import HardwareProfile
from recommender.profile import DatasetProfile
from search_spaces import FrameworkAdapter

SECONDS_PER_MILLION_CELLS = 2.0
FIXED_SECONDS = 0.15
GPU_SPEEDUP = 5.0
GPU_MIN_CELLS = 1_000_000
#: One-hot and TF-IDF expand columns; this is the average expansion assumed per kind.
EXPANSION = {"categorical": 4.0, "text": 50.0, "datetime": 6.0}


@dataclass(frozen=True)
class CostEstimate:
    seconds: float
    device: str
    explanation: str


def encoded_cells(profile: DatasetProfile) -> float:
    width = 0.0
    for c in profile.columns:
        if c.action == "drop":
            continue
        width += EXPANSION.get(c.kind, 1.0)
    return profile.n_rows * max(width, 1.0)


def estimate_fit_seconds(
    adapter: FrameworkAdapter, profile: DatasetProfile, hardware: HardwareProfile, device: str
) -> CostEstimate:
    cells = encoded_cells(profile)
    seconds = FIXED_SECONDS + SECONDS_PER_MILLION_CELLS * adapter.relative_cost * cells / 1e6
    why = f"~{cells / 1e6:.2f}M encoded cells x {adapter.relative_cost:.1f} relative cost"
    if device == "cuda":
        seconds = FIXED_SECONDS + (seconds - FIXED_SECONDS) / GPU_SPEEDUP
        why += f", GPU assumed {GPU_SPEEDUP:.0f}x faster"
    return CostEstimate(seconds=seconds, device=device, explanation=why)


def gpu_pays(profile: DatasetProfile) -> bool:
    return encoded_cells(profile) >= GPU_MIN_CELLS
