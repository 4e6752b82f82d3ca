"""Keras 3's backend (TensorFlow, JAX or torch): measured on this machine, chosen once per process.

Keras fixes its backend when it is first imported (``KERAS_BACKEND``), so the choice is made for
the process that runs Keras trials, before keras loads: :func:`apply` sets ``KERAS_BACKEND`` (child
processes of ``isolation="process"`` inherit it) and refuses a backend other than the one keras was
already imported with in this process.

``"auto"`` picks the fastest *measured* backend; nothing is measured silently (a user's small budget
is not spent on it): :func:`measure` runs one short subprocess per installed backend that imports
keras on it and times a few hundred mini-batches of a small dense MLP on one thread, and caches the
figures in ``~/.cache/automl-recommender/keras_backends.json`` (``$AUTOML_KERAS_BACKENDS_CACHE``
overrides the path), keyed by the machine and the versions installed. ``automl keras-backends``
and ``make bench-keras-backends`` run it. Unmeasured, ``"auto"`` is TensorFlow, Keras' default.
Importing this module imports no framework.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from search_spaces.keras_adapter import keras_backend_in_use

BACKENDS = ("tensorflow", "jax", "torch")
CHOICES = ("auto", *BACKENDS)
DEFAULT = "tensorflow"
CACHE_ENV = "AUTOML_KERAS_BACKENDS_CACHE"
INSTALL = {
    "tensorflow": "pip install 'automl-recommender[tensorflow]'",
    "jax": "pip install 'automl-recommender[jax]'",
    "torch": "pip install 'automl-recommender[torch]'",
}
_VERSIONED = ("keras", "tensorflow", "jax", "jaxlib", "torch")


class BackendError(ValueError):
    """A Keras backend that cannot be used in this process (the message says why and the fix)."""


@dataclass(frozen=True)
class Measurement:
    """One backend's speed: seconds per mini-batch after warm-up, and to import keras on it."""

    backend: str
    seconds_per_batch: float | None
    import_seconds: float | None
    warmup_seconds: float | None = None
    batches: int = 0
    batch_size: int = 0
    error: str | None = None


@dataclass(frozen=True)
class BackendChoice:
    """The backend a run uses and why (the reason is shown in the recommendation)."""

    backend: str
    reason: str
    requested: str = "auto"


def installed() -> list[str]:
    """The backends keras could load here (keras installed and the backend's package found)."""
    if importlib.util.find_spec("keras") is None:
        return []
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def cache_path() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "automl-recommender" / "keras_backends.json"


def machine_key() -> str:
    """The machine and the versions the figures hold for (a new version is measured again)."""
    versions = []
    for dist in _VERSIONED:
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    cpu = platform.processor() or platform.machine()
    return f"{platform.system()} {cpu} x{os.cpu_count()}; python {platform.python_version()}; " + ", ".join(versions)


def load() -> dict[str, Measurement]:
    """The cached measurements for this machine and these versions (empty when none)."""
    try:
        data = json.loads(cache_path().read_text())
        entry = data.get(machine_key(), {})
        return {b: Measurement(**m) for b, m in entry.get("backends", {}).items() if b in BACKENDS}
    except (OSError, ValueError, TypeError):
        return {}


def _store(results: dict[str, Measurement]) -> None:
    path = cache_path()
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    entry = data.setdefault(machine_key(), {"backends": {}})
    entry["backends"].update({b: asdict(m) for b, m in results.items()})
    entry["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


#: Run in a fresh interpreter with KERAS_BACKEND set: import keras, train a 2 x 256 MLP on one thread.
_SCRIPT = r"""
import json, os, sys, time
batches, batch = int(sys.argv[1]), int(sys.argv[2])
t = time.perf_counter()
import keras
imported = time.perf_counter() - t
backend = keras.backend.backend()
if backend == "tensorflow":
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
elif backend == "torch":
    import torch
    torch.set_num_threads(1)
import numpy as np
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(batches * batch, 32)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int32")
model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(256, activation="relu"),
                          keras.layers.Dense(256, activation="relu"), keras.layers.Dense(2)])
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
t = time.perf_counter()
model.fit(x[: 10 * batch], y[: 10 * batch], batch_size=batch, epochs=1, verbose=0)
warmup = time.perf_counter() - t
t = time.perf_counter()
model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
per_batch = (time.perf_counter() - t) / batches
print(json.dumps({"backend": backend, "seconds_per_batch": per_batch, "import_seconds": imported,
                  "warmup_seconds": warmup}))
"""


def measure_one(backend: str, batches: int = 300, batch_size: int = 128, timeout: float = 300.0) -> Measurement:
    """Time ``backend`` in a subprocess (one CPU thread); an error is recorded, not raised."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "")}
    if backend == "jax":
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    fail = Measurement(backend, None, None, batches=batches, batch_size=batch_size)
    try:
        out = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(batches), str(batch_size)],
            env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        return Measurement(**{**asdict(fail), "error": f"no result within {timeout:g} s"})
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return Measurement(**{**asdict(fail), "error": f"exit {out.returncode}: {tail}"})
    got = json.loads(lines[-1])
    if got["backend"] != backend:
        return Measurement(**{**asdict(fail), "error": f"keras loaded {got['backend']!r} instead"})
    return Measurement(backend, float(got["seconds_per_batch"]), float(got["import_seconds"]),
                       float(got["warmup_seconds"]), batches, batch_size)


def measure(backends: list[str] | None = None, batches: int = 300, batch_size: int = 128) -> dict[str, Measurement]:
    """Measure each installed backend (or those named), one after the other, and cache the figures."""
    names = installed() if backends is None else list(backends)
    unknown = [b for b in names if b not in BACKENDS]
    if unknown:
        raise BackendError(f"unknown Keras backend(s) {unknown}; known: {list(BACKENDS)}")
    results = {b: measure_one(b, batches, batch_size) for b in names}
    _store(results)
    return results


def _ms(m: Measurement) -> str:
    return f"{m.seconds_per_batch * 1000:.2g} ms" if m.seconds_per_batch is not None else "failed"


def _comparison(backend: str, measured: dict[str, Measurement]) -> str:
    mine = measured.get(backend)
    others = [m for b, m in measured.items() if b != backend and m.seconds_per_batch is not None]
    if mine is None or mine.seconds_per_batch is None:
        return "not measured on this machine"
    text = f"measured {_ms(mine)} per batch"
    if others:
        text += " against " + " and ".join(f"{m.backend} {_ms(m)}" for m in others)
    return text + " on this machine"


def choose(
    requested: str = "auto",
    measured: dict[str, Measurement] | None = None,
    *,
    available: list[str] | None = None,
    imported: str | None = None,
    env: str | None = None,
) -> BackendChoice:
    """The backend for ``requested`` (``"auto"`` or a backend) given the measurements, the installed
    backends, the backend keras was already imported with here (``imported``) and ``KERAS_BACKEND``."""
    if requested not in CHOICES:
        raise BackendError(f"search_options['keras_backend'] must be one of {list(CHOICES)}, got {requested!r}")
    measured = load() if measured is None else measured
    available = installed() if available is None else available
    usable = {b: m for b, m in measured.items() if b in available and m.seconds_per_batch is not None}
    if requested != "auto":
        return BackendChoice(requested, f"Keras backend {requested}: as asked; {_comparison(requested, usable)}",
                             requested)
    if imported is not None:
        why = f"keras is already imported in this process on it ({_comparison(imported, usable)})"
        return BackendChoice(imported, f"Keras backend {imported}: {why}")
    if env:
        return BackendChoice(env, f"Keras backend {env}: set by KERAS_BACKEND; {_comparison(env, usable)}")
    if usable:
        best = min(usable.values(), key=lambda m: float(m.seconds_per_batch or 0.0))
        why = f"fastest, {_comparison(best.backend, usable)}"
        return BackendChoice(best.backend, f"Keras backend {best.backend}: {why}")
    names = ", ".join(available) or "none installed"
    return BackendChoice(
        DEFAULT,
        f"Keras backend {DEFAULT}: Keras' default; no backend's speed measured on this machine yet "
        f"(installed: {names}; measure them with `automl keras-backends`)",
    )


#: The choice :func:`apply` made in this process (the recommendation's reason repeats it).
_APPLIED: BackendChoice | None = None


def _imported_backend() -> str | None:
    return keras_backend_in_use() if "keras" in sys.modules else None


def apply(requested: str = "auto") -> BackendChoice:
    """Choose the backend and set ``KERAS_BACKEND`` for this process and its children; refuse one
    that is not installed, or that differs from the backend keras was already imported with here."""
    global _APPLIED
    imported = _imported_backend()
    choice = choose(requested, imported=imported, env=os.environ.get("KERAS_BACKEND") or None)
    if imported is not None and choice.backend != imported:
        raise BackendError(
            f"search_options['keras_backend']={requested!r}, but keras is already imported in this process on "
            f"{imported!r} and Keras 3 fixes its backend at import: start a new Python process (or set "
            f"KERAS_BACKEND={choice.backend} before anything imports keras), or pass keras_backend='auto'"
        )
    if choice.backend not in installed():
        if requested == "auto":  # Keras cannot run here at all: the recommender says so
            return choice
        raise BackendError(
            f"search_options['keras_backend']: the Keras backend {choice.backend!r} is not installed here: "
            f"{INSTALL[choice.backend]}, or choose one of {installed() or ['(install keras first)']}"
        )
    os.environ["KERAS_BACKEND"] = choice.backend
    _APPLIED = choice
    return choice


def reason() -> str:
    """Why Keras runs on its backend here: the applied choice, else what ``"auto"`` would choose."""
    if _APPLIED is not None and _APPLIED.backend == keras_backend_in_use():
        return _APPLIED.reason
    env = os.environ.get("KERAS_BACKEND") or None
    try:
        return choose("auto", imported=_imported_backend(), env=env).reason
    except BackendError as e:  # pragma: no cover - choose("auto") validates nothing else
        return str(e)


def table(measured: dict[str, Measurement]) -> list[dict[str, Any]]:
    """Rows for display, fastest first (failed measurements last)."""
    rows = sorted(measured.values(), key=lambda m: (m.seconds_per_batch is None, m.seconds_per_batch or 0.0))
    return [asdict(m) for m in rows]
