"""The recommender's entry point: rank the frameworks for a dataset and machine with the default ranker."""

from __future__ import annotations

from collections.abc import Sequence

from recommender.hardware import HardwareProfile
from recommender.learned import default_ranker
from recommender.profile import DatasetProfile
from recommender.ranking import DeviceChoice, Ranker, Recommendation


def recommend_frameworks(
    profile: DatasetProfile,
    hardware: HardwareProfile,
    *,
    time_budget: float | None = None,
    frameworks: Sequence[str] | None = None,
    device: DeviceChoice = "auto",
    ranker: Ranker | None = None,
    fits_per_trial: float = 1.0,
    include: Sequence[str] = (),
    sampled_rows: int | None = None,
) -> Recommendation:
    """Rank the frameworks for this dataset and machine with ``ranker`` (default:
    :func:`~recommender.learned.default_ranker`); see :meth:`Ranker.rank` for the arguments."""
    if ranker is None:
        ranker = default_ranker()
    return ranker.rank(
        profile, hardware, time_budget=time_budget, frameworks=frameworks, device=device,
        fits_per_trial=fits_per_trial, include=include, sampled_rows=sampled_rows,
    )
