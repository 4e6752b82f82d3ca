"""The one extension point for frameworks: a small adapter base class.

An adapter says three things about a framework: static metadata the recommender, the hardware
probe and the reports read without importing the framework (class attributes, plus two small hooks
over plain data: :meth:`FrameworkAdapter.score_rules` for the rule-based ranking and
:meth:`FrameworkAdapter.gpu_build` for the CUDA check), a search space written as a function of
``(trial, spec)``, and how to build a scikit-learn compatible estimator, preprocessing included,
from one sampled configuration. Adding a framework is one subclass passed to ``register``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from search_spaces._spec import FeatureSpec, RankingFacts, Task

Device = Literal["cpu", "cuda"]


@dataclass(frozen=True)
class Config:
    """One point of a framework's search space: the model family and its hyper-parameters."""

    framework: str
    family: str
    params: dict[str, Any] = field(default_factory=dict)

    def trial_params(self) -> dict[str, Any]:
        """The same point as Optuna parameter names, for ``study.enqueue_trial``."""
        out: dict[str, Any] = {"framework": self.framework, f"{self.framework}.family": self.family}
        out.update({f"{self.framework}.{self.family}.{k}": v for k, v in self.params.items()})
        return out


class ScopedTrial:
    """Prefixes parameter names so that every family's parameters live apart in one study.

    Works with a real ``optuna.Trial`` and with ``optuna.trial.FixedTrial`` alike.
    """

    def __init__(self, trial: Any, prefix: str) -> None:
        self._trial = trial
        self._prefix = prefix

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return float(self._trial.suggest_float(f"{self._prefix}.{name}", low, high, log=log))

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        return int(self._trial.suggest_int(f"{self._prefix}.{name}", low, high, log=log))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._trial.suggest_categorical(f"{self._prefix}.{name}", list(choices))


class FrameworkAdapter(ABC):
    """Base class of every framework adapter. Subclasses set the metadata and the four abstract
    methods; the ranking and GPU hooks default to "no adjustments" and "CPU only"."""

    #: Key used everywhere (CLI, study parameters, leaderboard).
    name: ClassVar[str]
    display_name: ClassVar[str]
    #: Distribution whose metadata gives the installed version, and the top-level import name.
    distribution: ClassVar[str]
    import_name: ClassVar[str]
    tasks: ClassVar[frozenset[Task]]
    supports_gpu: ClassVar[bool] = False
    #: Seconds per trial relative to scikit-learn's histogram gradient boosting on the same data.
    relative_cost: ClassVar[float] = 1.0
    #: Whether trials report intermediate scores (so pruners can stop them).
    iterative: ClassVar[bool] = False
    #: Shown to users when the framework is missing.
    install_hint: ClassVar[str] = ""
    #: Neural networks: trained in epochs of mini-batches, costed per epoch by the recommender.
    network: ClassVar[bool] = False
    #: Fixed seconds per mini-batch (framework dispatch), used by the network cost model.
    batch_overhead_seconds: ClassVar[float] = 0.0
    #: Intermediate steps (boosting rounds, epochs) before a trial of this framework may be pruned.
    warmup_steps: ClassVar[int] = 100
    #: Seconds the first import of the framework takes (measured on a 2-core machine).
    import_seconds: ClassVar[float] = 0.0
    #: The model family whose default configuration is the search's first trial, a fast and robust
    #: baseline (the first family so named among the study's frameworks; None: not this framework's).
    baseline_family: ClassVar[str | None] = None
    #: Expected relative quality on tabular data before any ranking rule fires (see :meth:`score_rules`).
    prior_score: ClassVar[float] = 0.5
    #: The framework's colour in plots (any matplotlib colour); None: one of matplotlib's cycle.
    colour: ClassVar[str | None] = None
    #: Which converter of ``automl.export.onnx`` turns this framework's fitted models into ONNX (a key
    #: of its ``CONVERTERS``: 'sklearn', 'xgboost', 'lightgbm', 'catboost', 'torch' or 'keras');
    #: None: ONNX export refuses its models, naming the framework.
    onnx_converter: ClassVar[str | None] = None

    @classmethod
    def is_installed(cls) -> bool:
        """True when the framework can be imported; looks it up without importing it."""
        return importlib.util.find_spec(cls.import_name) is not None

    @classmethod
    def version(cls) -> str | None:
        try:
            return importlib.metadata.version(cls.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    @classmethod
    def gpu_build(cls, version: str, dists: set[str]) -> tuple[bool, str]:
        """Whether the installed build (``version``, beside the distributions ``dists``, lower-case
        names) can use a CUDA GPU, and why; judged from package metadata alone, importing nothing.
        Asked only of adapters with ``supports_gpu``."""
        return False, "runs on the CPU only"

    def score_rules(self, facts: RankingFacts) -> list[tuple[float, str]]:
        """The rule-based ranker's adjustments to :attr:`prior_score` for this data and machine, in
        order, each with its reason (a delta of 0 states a fact about the framework)."""
        return []

    @abstractmethod
    def families(self, spec: FeatureSpec) -> list[str]:
        """Model families worth searching for this data."""

    @abstractmethod
    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        """Sample one configuration: the family first, then its hyper-parameters."""

    @abstractmethod
    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        """A fresh, unfitted scikit-learn compatible estimator, preprocessing included."""

    @abstractmethod
    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        """Configurations tried before the sampler takes over, cheapest and most robust first."""

    def suggest_family(self, trial: Any, spec: FeatureSpec) -> str:
        return str(trial.suggest_categorical(f"{self.name}.family", self.families(spec)))

    def scoped(self, trial: Any, family: str) -> ScopedTrial:
        return ScopedTrial(trial, f"{self.name}.{family}")

    def supports(self, task: Task) -> bool:
        return task in self.tasks

    def metadata(self) -> dict[str, Any]:
        """Static facts about the framework; reading them imports nothing heavy."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "distribution": self.distribution,
            "import_name": self.import_name,
            "tasks": sorted(self.tasks),
            "supports_gpu": self.supports_gpu,
            "relative_cost": self.relative_cost,
            "iterative": self.iterative,
            "network": self.network,
            "prior_score": self.prior_score,
            "colour": self.colour,
        }


def save_native_dir(estimator: Any, directory: Any, fitted: str, write: Any, meta: Any) -> None:
    """Shared body of the models' ``save_native``: ``write(dir)`` saves the framework's own file,
    and ``model.json`` records the class name with ``meta()`` (everything needed to rebuild it)."""
    import json
    from pathlib import Path

    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, fitted)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    write(d)
    (d / "model.json").write_text(json.dumps({"class": type(estimator).__name__, **meta()}))


def read_native_meta(directory: Any, classes: Any) -> tuple[Any, dict[str, Any], type]:
    """``(dir, model.json contents, class)`` for ``load_native``; the class must be one of ``classes``."""
    import json
    from pathlib import Path

    d = Path(directory)
    meta = json.loads((d / "model.json").read_text())
    by_name = {c.__name__: c for c in classes}
    if meta.get("class") not in by_name:
        raise ValueError(f"{d} holds a {meta.get('class')!r}, expected one of {sorted(by_name)}")
    return d, meta, by_name[meta["class"]]
