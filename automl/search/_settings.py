"""What a search is given (:class:`SearchSettings`) and what it returns (:class:`SearchOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna

from automl.search._spec import RunSpec
from search_spaces import Config


@dataclass
class SearchSettings:
    time_budget: float
    n_trials: int | None
    seed: int
    n_jobs: int
    started: float  # time.monotonic() when fit() was called
    storage: Any = None
    study_name: str | None = None
    verbosity: int = 1
    #: Search features (each can be switched off to measure what it brings; see benchmarks/compare.py).
    ensemble: bool = True  # greedy ensemble selection over the best trials' out-of-fold predictions
    portfolio: bool = True  # warm-start configurations mined from the PMLB pool, tried first
    pruner: str = "sha"  # "sha" (successive halving), "median" or "none", per framework
    allocation: str = "cost"  # "cost" (estimated cost for improvement) or "sampler" (TPE picks)
    subsample: bool = True  # search on a sample of a large holdout's training rows, refit on all
    #: True: small data's cross-validation fold models kept (no refit), and on medium data k-fold bags
    #: when the time plan allows; "medium": only the latter (small data refits on all rows); False: neither.
    bagging: bool | str = True
    #: Ensemble weights on up to 1,000 rows: "bootstrap" (greedy selection averaged over bootstrap
    #: samples of the out-of-fold rows) or "greedy" (one pass, as on larger data).
    selection: str = "bootstrap"
    #: With small data's fold models kept and the folds drawn several times: "averaged" (ensemble selection
    #: scores each row's out-of-fold predictions averaged over the repeats) or "pooled" (side by side).
    selection_rows: str = "averaged"
    #: "process": each trial runs in a child process that is killed at the trial's deadline or memory cap.
    isolation: str = "none"
    #: Keras 3's backend: "auto", "tensorflow", "jax" or "torch" (see recommender.keras_backends).
    keras_backend: str = "auto"
    #: Seconds one trial may run (None: a quarter of the time budget, at least 10 s); learners stop at it
    #: (the trial keeps the folds it finished, marked truncated), isolated trials are killed.
    trial_timeout: float | None = None
    #: With isolation="process": a trial's process is killed above this resident memory (None: 80% of free RAM).
    memory_limit_mb: float | None = None
    #: The run's specification, written into a new study (and read back by resume and workers).
    spec: RunSpec | None = None
    #: The study's framework choices in their fixed order (default: the recommendation's).
    frameworks: list[str] | None = None
    #: Frameworks the user asked for by name (``frameworks=``, a custom Keras HyperModel): their
    #: defaults always join the first queue, whatever the evidence says.
    named: tuple[str, ...] = ()
    #: A worker runs trials of another process's study until it finishes; no refit, no result.
    worker: bool = False

    @property
    def deadline(self) -> float:
        return self.started + self.time_budget


@dataclass
class SearchOutcome:
    study: optuna.Study
    best_trial: optuna.trial.FrozenTrial | None
    best_model: Any
    best_config: Config | None
    refit: str
    interrupted: bool = False
    messages: list[str] = field(default_factory=list)
    #: Members of the ensemble that replaced the single best model, if one validated better.
    ensemble: list[dict[str, Any]] = field(default_factory=list)
    ensemble_score: float | None = None
    #: k when the final model averages k-fold bags (no refit); 0 otherwise.
    bag_folds: int = 0
    #: The validation the search used, in words (the search may replace the planned holdout by bags).
    validation: str = ""
    #: A worker's trials by state.
    worker_summary: dict[str, Any] = field(default_factory=dict)
