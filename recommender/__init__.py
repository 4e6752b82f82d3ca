"""Dataset and hardware profiling, and the ranking of frameworks with reasons and predicted cost."""

from recommender.cost import CostEstimate, estimate_fit_seconds
from recommender.hardware import FrameworkStatus, GPUInfo, HardwareProfile, detect_hardware
from recommender.profile import ColumnProfile, DatasetProfile, infer_task, profile_dataset
from recommender.ranking import (
    Candidate,
    Exclusion,
    Ranker,
    Recommendation,
    RuleBasedRanker,
)
from recommender.recommend import recommend_frameworks

__all__ = [
    "Candidate",
    "ColumnProfile",
    "CostEstimate",
    "DatasetProfile",
    "Exclusion",
    "FrameworkStatus",
    "GPUInfo",
    "HardwareProfile",
    "Ranker",
    "Recommendation",
    "RuleBasedRanker",
    "detect_hardware",
    "estimate_fit_seconds",
    "infer_task",
    "profile_dataset",
    "recommend_frameworks",
]
