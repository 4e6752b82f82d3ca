"""PyTorch: published tabular networks (RealMLP, TabM) and a plain MLP with embeddings, on CPU or CUDA.

RealMLP and TabM are written here from their papers (``_realmlp_model``, ``_tabm_model``); their
default configurations are the papers' tuned defaults and come first, the search spaces surround them.
"""

from __future__ import annotations

from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter, ScopedTrial
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec, RankingFacts


class TorchAdapter(FrameworkAdapter):
    """Adapter for PyTorch networks; torch is imported only when an estimator is built."""

    name = "torch"
    display_name = "PyTorch"
    distribution = "torch"
    import_name = "torch"
    tasks = frozenset(TASKS)
    supports_gpu = True
    relative_cost = 6.0
    iterative = True
    import_seconds = 1.5
    install_hint = "pip install 'automl-recommender[torch]'"
    network = True
    warmup_steps = 5
    batch_overhead_seconds = 0.0006
    prior_score = 0.47
    colour = "#d62728"
    onnx_converter = "torch"

    @classmethod
    def gpu_build(cls, version: str, dists: set[str]) -> tuple[bool, str]:
        if "+cpu" in version:
            return False, f"torch {version} is a CPU-only build"
        if any(d.startswith("nvidia-cuda-runtime") for d in dists) or "+cu" in version:
            return True, f"torch {version} is a CUDA build"
        return False, f"torch {version} has no CUDA runtime installed beside it"

    def score_rules(self, facts: RankingFacts) -> list[tuple[float, str]]:
        """Beyond the rules for every network: embeddings for high-cardinality categoricals."""
        high_card = facts.high_cardinality(50)
        if high_card:
            return [(0.03, f"{high_card} high-cardinality categorical column(s): learned embeddings help")]
        return []

    def families(self, spec: FeatureSpec) -> list[str]:
        return ["realmlp", "tabm", "mlp"]

    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        family = self.suggest_family(trial, spec)
        t = self.scoped(trial, family)
        space = {"mlp": _suggest_mlp, "realmlp": _suggest_realmlp, "tabm": _suggest_tabm}[family]
        p = space(t)
        if spec.is_classification:
            p["class_weight"] = t.suggest_categorical("class_weight", ["none", "balanced"])
        return Config(self.name, family, p)

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        """RealMLP-TD's and TabM's published defaults (TabM at 256 units, not 512: a quarter of the
        CPU time, within the paper's range), then the plain MLP."""
        configs = [
            Config(self.name, "realmlp", {
                "hidden_units": 256, "n_layers": 3, "dropout": 0.15, "embedding": True, "learning_rate": 0.04,
                "weight_decay": 0.0, "schedule": "coslog4", "batch_size": 256,
            }),
            Config(self.name, "tabm", {
                "k": 32, "n_blocks": 3, "d_block": 256, "dropout": 0.1, "arch": "tabm-mini", "embedding": "periodic",
                "learning_rate": 2e-3, "weight_decay": 3e-4, "batch_size": 256,
            }),
            Config(self.name, "mlp", {
                "hidden_units": 128, "n_layers": 2, "dropout": 0.1, "learning_rate": 2e-3,
                "weight_decay": 1e-4, "batch_size": 256 if spec.n_rows > 5000 else 64,
            }),
        ]
        if spec.is_classification:
            for c in configs:
                c.params["class_weight"] = "none"
        return configs

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        import numpy as np

        from search_spaces._preprocess import make_preprocessor, n_categorical_outputs, with_preprocessing

        try:
            cls = _estimator_class(config.family, spec.is_classification)
        except ImportError as e:
            raise ImportError(f"the 'torch' framework needs PyTorch: {self.install_hint}") from e
        p = dict(config.params)
        weight = p.pop("class_weight", "none")
        # RealMLP and TabM robust-scale numeric columns inside the network; the MLP wants them standardised.
        scale = config.family == "mlp"
        pre = make_preprocessor(
            spec, categorical="ordinal", impute=True, scale=scale, text_features=100, dtype=np.float32
        )
        model = cls(
            n_categorical=n_categorical_outputs(spec),
            class_weight=None if weight == "none" else weight,
            device=device,
            n_jobs=n_jobs,
            random_state=seed,
            **p,
        )
        return with_preprocessing(pre, model)


def _estimator_class(family: str, classification: bool) -> type:
    if family == "realmlp":
        from search_spaces import _realmlp_model as m

        return m.RealMLPClassifier if classification else m.RealMLPRegressor
    if family == "tabm":
        from search_spaces import _tabm_model as t

        return t.TabMClassifier if classification else t.TabMRegressor
    if family == "mlp":
        from search_spaces._torch_model import TorchMLPClassifier, TorchMLPRegressor

        return TorchMLPClassifier if classification else TorchMLPRegressor
    raise ValueError(f"unknown torch model family {family!r}; known: realmlp, tabm, mlp")


def _suggest_mlp(t: ScopedTrial) -> dict[str, Any]:
    return {
        "hidden_units": t.suggest_int("hidden_units", 32, 512, log=True),
        "n_layers": t.suggest_int("n_layers", 1, 4),
        "dropout": t.suggest_float("dropout", 0.0, 0.5),
        "learning_rate": t.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "weight_decay": t.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
        "batch_size": t.suggest_categorical("batch_size", [64, 128, 256, 512]),
    }


def _suggest_realmlp(t: ScopedTrial) -> dict[str, Any]:
    """Around RealMLP-TD, as the paper's HPO space: width, depth, dropout, lr, weight decay, embeddings."""
    return {
        "hidden_units": t.suggest_categorical("hidden_units", [128, 256, 512]),
        "n_layers": t.suggest_int("n_layers", 1, 4),
        "dropout": t.suggest_categorical("dropout", [0.0, 0.15, 0.3]),
        "embedding": t.suggest_categorical("embedding", [True, False]),
        "learning_rate": t.suggest_float("learning_rate", 2e-3, 0.2, log=True),
        "weight_decay": t.suggest_categorical("weight_decay", [0.0, 0.02]),
        "schedule": t.suggest_categorical("schedule", ["coslog4", "flat_cos"]),
        "batch_size": t.suggest_categorical("batch_size", [128, 256, 512]),
    }


def _suggest_tabm(t: ScopedTrial) -> dict[str, Any]:
    """Around TabM's defaults, as the paper's space (members fixed to a few powers of two)."""
    return {
        "k": t.suggest_categorical("k", [8, 16, 32]),
        "n_blocks": t.suggest_int("n_blocks", 1, 4),
        "d_block": t.suggest_int("d_block", 64, 1024, log=True),
        "dropout": t.suggest_float("dropout", 0.0, 0.5),
        "arch": t.suggest_categorical("arch", ["tabm-mini", "tabm"]),
        "embedding": t.suggest_categorical("embedding", ["periodic", "none"]),
        "learning_rate": t.suggest_float("learning_rate", 1e-4, 5e-3, log=True),
        "weight_decay": t.suggest_categorical("weight_decay", [0.0, 1e-4, 3e-4, 1e-3]),
        "batch_size": t.suggest_categorical("batch_size", [128, 256, 512]),
    }


register(TorchAdapter, aliases=("pytorch",))
