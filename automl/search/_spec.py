"""The run's specification, kept in the study so that resume and workers rebuild the same search.

A :class:`RunSpec` is written into a new study's user attribute ``automl_spec`` (as a plain dict,
``to_dict``) and read back by ``automl.resume`` and ``automl worker`` (``read_spec``). The dict
carries a ``version``: a spec written before versions existed (no ``version`` key) reads as
version 0, the same layout; a spec from a newer automl is refused with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import optuna

from automl.errors import InputError
from automl.search._study import HEARTBEAT_SECONDS, SPEC_ATTR

#: The layout this code writes and the newest it reads.
SPEC_VERSION = 1
#: Keys every spec holds (version 0 included); the others have defaults.
_REQUIRED = (
    "target", "task", "metric", "frameworks", "device", "seed", "n_jobs", "time_budget", "n_trials",
    "options", "data", "started_epoch",
)


@dataclass(frozen=True)
class DataSource:
    """The data a run searches: its file (None for a DataFrame), row count and fingerprint.

    The fingerprint is None for a study that lives only in memory (no resume, no workers)."""

    path: str | None
    rows: int
    fingerprint: str | None


@dataclass(frozen=True)
class RunSpec:
    """What a search was started with: data, target, task, metric, frameworks, budget, seed, options."""

    target: str
    task: str
    metric: str
    #: The study's framework choices in their fixed order (its search space).
    frameworks: tuple[str, ...]
    device: str
    seed: int
    n_jobs: int
    time_budget: float
    n_trials: int | None
    #: The validated search options, ``ensemble`` and ``cv_repeats`` included.
    options: dict[str, Any]
    data: DataSource
    #: Wall-clock time (epoch seconds) the search started: workers count the budget from it.
    started_epoch: float
    #: The run searched a user's KerasTuner hypermodel, which is not saved with it.
    custom_keras: bool = False
    #: Seconds between the heartbeats of an RDB storage's trials.
    heartbeat: int = HEARTBEAT_SECONDS
    #: Whether the rows trials train on were decided (on a holdout); ``subsample_rows`` then holds
    #: them (None: all training rows). A resumed study or a worker keeps the study's decision.
    subsample_decided: bool = False
    subsample_rows: int | None = None
    #: Whether k-fold bagging was decided (medium data); ``bag_folds`` then holds k (None: the holdout).
    bagging_decided: bool = False
    bag_folds: int | None = None
    #: The layout: a spec read from an older study is upgraded to this one in memory.
    version: int = SPEC_VERSION

    @property
    def ensemble(self) -> bool:
        return bool(self.options["ensemble"])

    @property
    def search_options(self) -> dict[str, Any]:
        """The options as ``fit(search_options=...)`` takes them (``ensemble`` is an argument of its own)."""
        return {k: v for k, v in self.options.items() if k != "ensemble"}

    def with_subsample(self, rows: int | None) -> RunSpec:
        return replace(self, subsample_decided=True, subsample_rows=rows)

    def with_bagging(self, folds: int | None) -> RunSpec:
        return replace(self, bagging_decided=True, bag_folds=folds)

    def with_data_path(self, path: str) -> RunSpec:
        return replace(self, data=replace(self.data, path=path))

    def to_dict(self) -> dict[str, Any]:
        """The spec as the study stores it (JSON types only)."""
        out: dict[str, Any] = {
            "version": self.version,
            "target": self.target, "task": self.task, "metric": self.metric,
            "frameworks": list(self.frameworks), "device": self.device, "seed": self.seed, "n_jobs": self.n_jobs,
            "time_budget": self.time_budget, "n_trials": self.n_trials, "options": dict(self.options),
            "data": {"path": self.data.path, "rows": self.data.rows, "fingerprint": self.data.fingerprint},
            "custom_keras": self.custom_keras, "heartbeat": self.heartbeat, "started_epoch": self.started_epoch,
        }
        if self.subsample_decided:
            out["subsample_rows"] = self.subsample_rows
        if self.bagging_decided:
            out["bag_folds"] = self.bag_folds
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "the study") -> RunSpec:
        """A spec read back from a study; ``where`` names the study in errors."""
        version = d.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise InputError(f"{where} has a run spec version {version!r}, not an integer; the study was edited")
        if version > SPEC_VERSION:
            raise InputError(
                f"{where} was started by a newer automl (run spec version {version}, this one reads up to "
                f"{SPEC_VERSION}); upgrade automl-recommender to continue it"
            )
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise InputError(f"{where} has a run spec without {', '.join(missing)}; start a new search")
        data = d["data"]
        return cls(
            target=d["target"], task=d["task"], metric=d["metric"], frameworks=tuple(d["frameworks"]),
            device=d["device"], seed=d["seed"], n_jobs=d["n_jobs"], time_budget=float(d["time_budget"]),
            n_trials=d["n_trials"], options=dict(d["options"]),
            data=DataSource(data.get("path"), data["rows"], data["fingerprint"]),
            started_epoch=float(d["started_epoch"]), custom_keras=bool(d.get("custom_keras", False)),
            heartbeat=d.get("heartbeat", HEARTBEAT_SECONDS),
            subsample_decided="subsample_rows" in d, subsample_rows=d.get("subsample_rows"),
            bagging_decided="bag_folds" in d, bag_folds=d.get("bag_folds"),
        )


def read_spec(study: optuna.Study) -> RunSpec:
    """The spec of a study started by automl, or an InputError saying how to start one."""
    spec = study.user_attrs.get(SPEC_ATTR)
    if not isinstance(spec, dict):
        raise InputError(
            f"study {study.study_name!r} was not created by automl (it has no {SPEC_ATTR!r} attribute); "
            "start the search with automl run or automl.fit first"
        )
    return RunSpec.from_dict(spec, where=f"study {study.study_name!r}")
