"""Keras 3's backend as a choice: measured speeds cached per machine, "auto" picks the fastest, the
choice is applied before keras loads and explained in the recommendation (issue 20, deliverable 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import automl
from automl.errors import InputError
from recommender import keras_backends as kb
from tests.conftest import make_frame

MEASURED = {
    "tensorflow": kb.Measurement("tensorflow", 0.0034, 4.0),
    "jax": kb.Measurement("jax", 0.0019, 2.5),
    "torch": kb.Measurement("torch", 0.0050, 1.5),
}
ALL = list(kb.BACKENDS)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """No KERAS_BACKEND, keras not imported, a cache of our own (restored afterwards)."""
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv(kb.CACHE_ENV, str(tmp_path / "keras_backends.json"))
    monkeypatch.setattr(kb, "_imported_backend", lambda: None)
    # Another test of the session may have imported keras (on TensorFlow): read the variable only.
    import os

    import search_spaces.keras_adapter as ka

    def from_env() -> str:
        return os.environ.get("KERAS_BACKEND", "tensorflow")

    monkeypatch.setattr(kb, "keras_backend_in_use", from_env)
    monkeypatch.setattr(ka, "keras_backend_in_use", from_env)
    monkeypatch.setattr(kb, "_APPLIED", None)
    monkeypatch.setattr(kb, "installed", lambda: ALL)
    return tmp_path / "keras_backends.json"


def test_auto_picks_the_fastest_measured_backend_and_says_why() -> None:
    choice = kb.choose("auto", MEASURED, available=ALL)
    assert choice.backend == "jax"
    assert choice.reason == (
        "Keras backend jax: fastest, measured 1.9 ms per batch against tensorflow 3.4 ms and torch 5 ms on this machine"
    )


def test_auto_without_measurements_is_tensorflow_and_names_the_command() -> None:
    choice = kb.choose("auto", {}, available=ALL)
    assert choice.backend == "tensorflow"
    assert "automl keras-backends" in choice.reason and "no backend's speed measured" in choice.reason


def test_auto_ignores_backends_not_installed_or_failed() -> None:
    measured = {**MEASURED, "tensorflow": kb.Measurement("tensorflow", None, None, error="exit 1")}
    assert kb.choose("auto", measured, available=["tensorflow", "torch"]).backend == "torch"


def test_auto_keeps_keras_already_imported_and_kerasbackend_env() -> None:
    assert kb.choose("auto", MEASURED, available=ALL, imported="torch").backend == "torch"
    env = kb.choose("auto", MEASURED, available=ALL, env="tensorflow")
    assert env.backend == "tensorflow" and "KERAS_BACKEND" in env.reason


def test_an_explicit_backend_wins_and_unknown_names_are_refused() -> None:
    assert kb.choose("torch", MEASURED, available=ALL).backend == "torch"
    with pytest.raises(kb.BackendError, match=r"keras_backend.*must be one of"):
        kb.choose("theano", MEASURED, available=ALL)


def test_measurements_are_cached_per_machine_and_versions(clean_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kb, "measure_one", lambda b, batches, batch_size: MEASURED[b])
    kb.measure(["jax", "torch"])
    assert set(kb.load()) == {"jax", "torch"}
    data = json.loads(clean_env.read_text())
    assert list(data) == [kb.machine_key()]
    monkeypatch.setattr(kb, "machine_key", lambda: "another machine")
    assert kb.load() == {}  # figures from other hardware or versions are not used


def test_apply_sets_the_backend_before_keras_loads(clean_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kb, "measure_one", lambda b, batches, batch_size: MEASURED[b])
    kb.measure(ALL)
    choice = kb.apply("auto")
    assert choice.backend == "jax"
    import os

    assert os.environ["KERAS_BACKEND"] == "jax"
    assert kb.reason() == choice.reason
    from search_spaces import get_adapter

    assert get_adapter("keras").display_name == "Keras (JAX)"


def test_apply_refuses_a_backend_other_than_the_one_keras_was_imported_with(
    clean_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kb, "_imported_backend", lambda: "tensorflow")
    assert kb.apply("auto").backend == "tensorflow"
    with pytest.raises(kb.BackendError, match=r"already imported in this process on 'tensorflow'.*new Python process"):
        kb.apply("jax")


def test_apply_refuses_a_backend_not_installed(clean_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kb, "installed", lambda: ["tensorflow"])
    with pytest.raises(kb.BackendError, match=r"'jax' is not installed.*automl-recommender\[jax\]"):
        kb.apply("jax")


def test_fit_validates_the_search_option_before_training(clean_env) -> None:
    df = make_frame("binary", n=60)
    with pytest.raises(InputError, match=r"search_options\['keras_backend'\] must be one of"):
        automl.fit(df, "y", time_budget=10, search_options={"keras_backend": "theano"})


def test_the_recommendation_says_which_backend_and_why(clean_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kb, "measure_one", lambda b, batches, batch_size: MEASURED[b])
    kb.measure(ALL)
    rec = automl.recommend(make_frame("binary", n=200), "y", time_budget=60, frameworks=["keras", "sklearn"])
    keras = next(c for c in [*rec.candidates] if c.framework == "keras")
    assert any(r.startswith("Keras backend jax: fastest, measured 1.9 ms") for r in keras.reasons)


@pytest.mark.slow
def test_a_real_measurement_in_a_subprocess(clean_env) -> None:
    m = kb.measure_one("jax", batches=20, batch_size=32)
    assert m.error is None, m.error
    assert m.seconds_per_batch is not None and m.seconds_per_batch > 0
    assert m.import_seconds is not None and m.import_seconds > 0


_FIT_ON_JAX = """
import json, numpy as np, pandas as pd
import automl
from recommender import keras_backends
keras_backends.apply("jax")
from search_spaces import get_adapter
from recommender import profile_dataset
rng = np.random.default_rng(0)
df = pd.DataFrame(rng.normal(size=(120, 4)), columns=list("abcd"))
df["y"] = (df.a + df.b > 0).astype(int)
spec = profile_dataset(df, "y").feature_spec()
adapter = get_adapter("keras")
config = adapter.default_configs(spec)[0]
est = adapter.build(config, spec).set_params(model__max_epochs=2)
est.fit(df[list(spec.columns)], df["y"])
import keras
print(json.dumps({"backend": keras.backend.backend(), "family": config.family, "display": adapter.display_name,
                  "proba": est.predict_proba(df[list(spec.columns)]).shape[1],
                  "tensorflow_loaded": "tensorflow" in __import__("sys").modules}))
"""


@pytest.mark.slow
def test_a_fit_on_the_jax_backend_really_runs_on_jax(clean_env) -> None:
    pytest.importorskip("jax")
    out = subprocess.run([sys.executable, "-c", _FIT_ON_JAX], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"backend": "jax", "family": "realmlp", "display": "Keras (JAX)", "proba": 2,
                   "tensorflow_loaded": False}  # a JAX process does not pay TensorFlow's import
