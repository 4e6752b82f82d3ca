"""PyTorch: a tabular MLP with categorical embeddings, on CPU or CUDA."""

from __future__ import annotations

from typing import Any

from search_spaces._base import Config, Device, FrameworkAdapter
from search_spaces._registry import register
from search_spaces._spec import TASKS, FeatureSpec, RankingFacts


class TorchAdapter(FrameworkAdapter):
    """Adapter for a PyTorch MLP; torch is imported only when an estimator is built."""

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
        return ["mlp"]

    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        family = self.suggest_family(trial, spec)
        t = self.scoped(trial, family)
        p: dict[str, Any] = {
            "hidden_units": t.suggest_int("hidden_units", 32, 512, log=True),
            "n_layers": t.suggest_int("n_layers", 1, 4),
            "dropout": t.suggest_float("dropout", 0.0, 0.5),
            "learning_rate": t.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
            "weight_decay": t.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
            "batch_size": t.suggest_categorical("batch_size", [64, 128, 256, 512]),
        }
        if spec.is_classification:
            p["class_weight"] = t.suggest_categorical("class_weight", ["none", "balanced"])
        return Config(self.name, family, p)

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        p: dict[str, Any] = {
            "hidden_units": 128, "n_layers": 2, "dropout": 0.1, "learning_rate": 2e-3,
            "weight_decay": 1e-4, "batch_size": 256 if spec.n_rows > 5000 else 64,
        }
        if spec.is_classification:
            p["class_weight"] = "none"
        return [Config(self.name, "mlp", p)]

    def build(
        self, config: Config, spec: FeatureSpec, *, device: Device = "cpu", seed: int = 0, n_jobs: int = 1
    ) -> Any:
        try:
            from search_spaces._torch_model import TorchMLPClassifier, TorchMLPRegressor
        except ImportError as e:
            raise ImportError(f"the 'torch' framework needs PyTorch: {self.install_hint}") from e
        from search_spaces._preprocess import make_preprocessor, n_categorical_outputs, with_preprocessing

        p = dict(config.params)
        weight = p.pop("class_weight", "none")
        pre = make_preprocessor(spec, categorical="ordinal", impute=True, scale=True, text_features=100)
        cls = TorchMLPClassifier if spec.is_classification else TorchMLPRegressor
        model = cls(
            n_categorical=n_categorical_outputs(spec),
            class_weight=None if weight == "none" else weight,
            device=device,
            n_jobs=n_jobs,
            random_state=seed,
            **p,
        )
        return with_preprocessing(pre, model)


register(TorchAdapter, aliases=("pytorch",))
