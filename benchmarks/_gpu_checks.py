"""The checks ``benchmarks.gpu_check`` runs, each in a process of its own (``--child NAME``).

Each check fits the project's own estimator (``get_adapter(...).build(config, spec, device=...)``)
on a generated dataset, asserts the device really used, and measures the fit; then the same fit on
the CPU for a slice of the rows, for the speedup. A check returns a result dict; it raises
:class:`SkipCheck` when its library or the library's CUDA build is missing, and
:class:`DeviceAssertionError` when the library claims a GPU but the model was not on it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

#: CPU slices: rows and epochs (networks) or rounds (trees); one CPU core, the cost model's unit.
CPU_ROWS_NETWORK = 4_000
CPU_EPOCHS = 2
CPU_ROWS_TREES = 10_000
GPU_EPOCHS = 6
ROUNDS = 200
#: The cost model's reference network (2 x 128 units, 128 rows a batch) and a wide batch: two
#: points separate the per-batch seconds from the throughput (``recommender.calibration``).
CALIBRATION_BATCHES = (128, 1024)


class SkipCheck(Exception):
    """The library, or its CUDA build, is not installed: reported as skipped, not failed."""


class DeviceAssertionError(AssertionError):
    """The fit ran, but not on the device asked for."""


def dataset(rows: int, features: int = 50, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, Any]:
    """A fixed binary classification problem and its FeatureSpec."""
    from sklearn.datasets import make_classification

    from search_spaces import FeatureSpec

    X, y = make_classification(
        n_samples=rows, n_features=features, n_informative=features // 2, random_state=seed
    )
    cols = [f"f{i}" for i in range(features)]
    spec = FeatureSpec(task="binary", n_rows=rows, numeric=tuple(cols), n_classes=2)
    return pd.DataFrame(X.astype(np.float32), columns=cols), pd.Series(y), spec


def require(module: str, why: str = "") -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise SkipCheck(f"{module} is not installed{why} ({e})") from e


def timed_fit(model: Any, X: pd.DataFrame, y: pd.Series, cap: float) -> dict[str, Any]:
    """Fit under a deadline of ``cap`` seconds; the seconds and, from the per-epoch reports, the
    epochs and the median seconds between reports (the first, with the warm-up, left out)."""
    from search_spaces import fit_budget

    stamps: list[float] = []
    started = time.monotonic()
    with fit_budget(deadline=started + cap, report=lambda step, value: stamps.append(time.monotonic())):
        model.fit(X, y)
    seconds = time.monotonic() - started
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    per_epoch = statistics.median(gaps) if gaps else (stamps[0] - started if stamps else seconds)
    return {"rows": len(X), "fit_seconds": round(seconds, 3), "epochs": len(stamps),
            "seconds_per_epoch": round(per_epoch, 5), "truncated": bool(getattr(model[-1], "truncated_", False))}


def per_row_speedup(cpu: dict[str, Any], gpu: dict[str, Any], key: str) -> float | None:
    """How many times faster the GPU processed a row than one CPU core (``key``: seconds per unit)."""
    c, g = cpu.get(key), gpu.get(key)
    if not c or not g:
        return None
    return round((c / cpu["rows"]) / (g / gpu["rows"]), 2)


# -- networks -----------------------------------------------------------------------------------
def _network(framework: str, family: str, device: str, spec: Any, epochs: int, **params: Any) -> Any:
    from search_spaces import get_adapter

    adapter = get_adapter(framework)
    config = next(c for c in adapter.default_configs(spec) if c.family == family)
    config.params.update(params)
    model = adapter.build(config, spec, device=device, seed=0, n_jobs=1)
    model[-1].set_params(max_epochs=epochs, patience=epochs)
    return model


def _torch_device(device: str) -> Any:
    torch = require("torch")
    if device == "cuda":
        if torch.version.cuda is None:
            raise SkipCheck(f"torch {torch.__version__} has no CUDA build")
        if not torch.cuda.is_available():
            raise DeviceAssertionError(f"torch {torch.__version__} is a CUDA build but torch.cuda.is_available() "
                                       "is False (driver or CUDA_VISIBLE_DEVICES?)")
        torch.zeros(1, device="cuda")  # the CUDA context, outside the timed fit
        torch.cuda.reset_peak_memory_stats()
    return torch


def _assert_torch_on(model: Any, device: str, torch: Any) -> str:
    where = {p.device.type for p in model[-1].network_.parameters()}
    if where != {device}:
        raise DeviceAssertionError(f"the network's parameters are on {sorted(where)}, not {device}")
    if device != "cuda":
        return f"parameters on {device}"
    peak = torch.cuda.max_memory_allocated()
    if peak <= 0:
        raise DeviceAssertionError("torch.cuda.max_memory_allocated() is 0: nothing was allocated on the GPU")
    return f"parameters on cuda ({torch.cuda.get_device_name(0)}), peak {peak / 2**20:.0f} MiB allocated"


def check_torch(family: str, device: str, rows: int, cap: float) -> dict[str, Any]:
    """One torch family (realmlp, tabm, mlp) through the project's adapter."""
    torch = _torch_device(device)
    X, y, spec = dataset(rows)
    model = _network("torch", family, device, spec, GPU_EPOCHS)
    gpu = timed_fit(model, X, y, cap * 0.45)
    asserted = _assert_torch_on(model, device, torch)
    amp = getattr(model[-1], "amp", "bfloat16 autocast on CUDA")  # the plain MLP has no amp option
    out: dict[str, Any] = {"device_asserted": asserted, "measured": gpu, "amp": amp}
    n = min(CPU_ROWS_NETWORK, rows)
    cpu = timed_fit(_network("torch", family, "cpu", spec, CPU_EPOCHS), X[:n], y[:n], cap * 0.3)
    out["cpu"] = cpu
    out["speedup"] = per_row_speedup(cpu, gpu, "seconds_per_epoch")
    if family == "mlp":
        out["calibration"] = _calibration_points(device, X, y, spec, cap * 0.2)
    return out


def _calibration_points(device: str, X: pd.DataFrame, y: pd.Series, spec: Any, cap: float) -> list[dict[str, Any]]:
    """The cost model's reference network at two batch sizes: rows, flops per row, seconds per epoch."""
    from recommender.cost import HIDDEN

    points = []
    for batch in CALIBRATION_BATCHES:
        model = _network("torch", "mlp", device, spec, 3, hidden_units=HIDDEN, n_layers=2, batch_size=batch)
        fit = timed_fit(model, X, y, cap / len(CALIBRATION_BATCHES))
        rows = int(round(len(X) * (1 - model[-1].validation_fraction)))  # rows trained per epoch
        flops = 6.0 * (X.shape[1] * HIDDEN + HIDDEN * HIDDEN)
        points.append({"rows": rows, "batch_size": batch, "flops_per_row": flops,
                       "seconds_per_epoch": fit["seconds_per_epoch"]})
    return points


def _keras_devices(backend: str, model: Any) -> set[str]:
    """Where the fitted Keras model's variables live: 'gpu' or 'cpu' per variable."""
    where = set()
    for v in model[-1].model_.weights:
        value = v.value
        if backend == "jax":
            where |= {d.platform for d in value.devices()}
        else:
            where.add("gpu" if "GPU" in str(value.device).upper() else "cpu")
    return where


def _keras_backend(device: str) -> tuple[str, Any]:
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "jax":
        jax = require("jax", " (pip install 'jax[cuda12]')")
        if device == "cuda":
            plugins = [d.metadata["Name"] for d in importlib.metadata.distributions()
                       if (d.metadata["Name"] or "").lower().startswith(("jax-cuda", "jax_cuda"))]
            if not plugins:
                raise SkipCheck(f"jax {jax.__version__} has no CUDA plugin (pip install 'jax[cuda12]')")
            if jax.devices()[0].platform != "gpu":
                raise DeviceAssertionError(
                    f"jax.devices()[0] is {jax.devices()[0]}, not a GPU ({plugins[0]} installed)"
                )
        require("keras")
        return backend, jax
    tf = require("tensorflow")
    if device == "cuda":
        if not tf.test.is_built_with_cuda():
            raise SkipCheck(f"tensorflow {tf.__version__} is built without CUDA")
        if not tf.config.list_physical_devices("GPU"):
            raise DeviceAssertionError(
                "tf.config.list_physical_devices('GPU') is empty (pip install 'tensorflow[and-cuda]')"
            )
    return backend, tf


def check_keras(device: str, rows: int, cap: float) -> dict[str, Any]:
    """The Keras MLP through the project's adapter, on the backend ``KERAS_BACKEND`` names."""
    backend, lib = _keras_backend(device)
    X, y, spec = dataset(rows)
    model = _network("keras", "mlp", device, spec, GPU_EPOCHS)
    gpu = timed_fit(model, X, y, cap * 0.5)
    where = _keras_devices(backend, model)
    want = "gpu" if device == "cuda" else "cpu"
    if where != {want}:
        raise DeviceAssertionError(f"the Keras model's variables are on {sorted(where)}, not {want} ({backend})")
    out: dict[str, Any] = {"device_asserted": f"{backend}: every variable on {want}", "measured": gpu}
    n = min(CPU_ROWS_NETWORK, rows)
    cpu_model = _network("keras", "mlp", "cpu", spec, CPU_EPOCHS)
    if backend == "jax":
        with lib.default_device(lib.devices("cpu")[0]):
            out["cpu"] = timed_fit(cpu_model, X[:n], y[:n], cap * 0.3)
    else:
        out["cpu"] = timed_fit(cpu_model, X[:n], y[:n], cap * 0.3)
    out["speedup"] = per_row_speedup(out["cpu"], gpu, "seconds_per_epoch")
    if backend == "tensorflow":  # the adapter's network: the points for the keras calibration
        batch = int(model[-1].hp_values_.get("batch_size", 128))
        rows_trained = int(round(len(X) * (1 - model[-1].validation_fraction)))
        out["calibration"] = [{"rows": rows_trained, "batch_size": batch, "flops_per_row": _keras_flops(model),
                               "seconds_per_epoch": gpu["seconds_per_epoch"]}]
    return out


def _keras_flops(model: Any) -> float:
    """6 x the dense weights: forward and backward multiply-adds per row."""
    return 6.0 * sum(int(np.prod(w.shape)) for w in model[-1].model_.weights if len(w.shape) == 2)


# -- tree learners ------------------------------------------------------------------------------
def _booster(framework: str, device: str, spec: Any, n_jobs: int = 1) -> Any:
    from search_spaces import get_adapter

    adapter = get_adapter(framework)
    model = adapter.build(adapter.default_configs(spec)[0], spec, device=device, seed=0, n_jobs=n_jobs)
    model[-1].set_params(n_estimators=ROUNDS, early_stopping_rounds=ROUNDS + 1)  # fixed rounds: comparable
    return model


def _tree_check(framework: str, device: str, rows: int, cap: float, assert_on: Callable[[Any], str]) -> dict[str, Any]:
    X, y, spec = dataset(rows)
    warm = _booster(framework, device, spec)
    warm[-1].set_params(n_estimators=5)
    warm.fit(X[:1000], y[:1000])  # CUDA context and kernels, outside the timed fit
    model = _booster(framework, device, spec)
    gpu = timed_fit(model, X, y, cap * 0.5)
    out: dict[str, Any] = {"device_asserted": assert_on(model[-1].model_), "measured": gpu}
    n = min(CPU_ROWS_TREES, rows)
    out["cpu"] = timed_fit(_booster(framework, "cpu", spec), X[:n], y[:n], cap * 0.4)
    out["speedup"] = per_row_speedup(out["cpu"], gpu, "fit_seconds")
    return out


def check_xgboost(device: str, rows: int, cap: float) -> dict[str, Any]:
    import json

    require("xgboost")

    def assert_on(m: Any) -> str:
        said = json.loads(m.get_booster().save_config())["learner"]["generic_param"]["device"]
        if not str(said).startswith(device):
            raise DeviceAssertionError(f"the booster's saved config says device={said!r}, not {device}")
        return f"booster config device={said}"

    return _tree_check("xgboost", device, rows, cap, assert_on)


def check_catboost(device: str, rows: int, cap: float) -> dict[str, Any]:
    require("catboost")
    want = "GPU" if device == "cuda" else "CPU"

    def assert_on(m: Any) -> str:
        said = m.get_all_params().get("task_type", "CPU")
        if said != want:
            raise DeviceAssertionError(f"the trained model's task_type is {said!r}, not {want}")
        return f"trained with task_type={said} (CatBoost raises where no GPU is usable)"

    return _tree_check("catboost", device, rows, cap, assert_on)


CHECKS: dict[str, Callable[[str, int, float], dict[str, Any]]] = {
    "xgboost": check_xgboost,
    "catboost": check_catboost,
    "torch-realmlp": lambda d, r, c: check_torch("realmlp", d, r, c),
    "torch-tabm": lambda d, r, c: check_torch("tabm", d, r, c),
    "torch-mlp": lambda d, r, c: check_torch("mlp", d, r, c),
    "keras-tensorflow": check_keras,
    "keras-jax": check_keras,
}
