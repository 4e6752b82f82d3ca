"""The Keras RealMLP (issue 20, deliverable 2): the PyTorch RealMLP's architecture in Keras 3.

Slow lane: these import Keras on TensorFlow (the jax backend is tested in test_keras_backends).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from recommender import profile_dataset
from search_spaces import fit_budget, get_adapter
from tests.conftest import make_frame

pytest.importorskip("keras_tuner")
pytestmark = pytest.mark.slow


def _build(task: str, n: int = 200, **params):
    adapter = get_adapter("keras")
    df = make_frame(task, n=n)
    spec = profile_dataset(df, "y").feature_spec()
    config = adapter.default_configs(spec)[0]
    assert config.family == "realmlp"
    est = adapter.build(config, spec)
    est.set_params(**{f"model__{k}": v for k, v in {"max_epochs": 4, **params}.items()})
    return est, df[list(spec.columns)], df["y"], spec


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_classifier_fits_and_gives_probabilities(task: str) -> None:
    est, X, y, spec = _build(task)
    est.fit(X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), y.nunique())
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(est.predict(X)) <= set(y)
    model = est[-1].model_
    assert 0.1 <= model.get_layer("probabilities").temperature <= 10.0
    assert est[-1].model_.get_layer("robust_scale").factor.numpy().any()  # fitted on the training rows


def test_categorical_codes_are_one_hot_or_embedded() -> None:
    est, X, y, spec = _build("binary")
    assert spec.categorical, "make_frame gives a categorical column"
    est.fit(X, y)
    layer = est[-1].model_.get_layer("categorical")
    assert layer.cardinalities and all(c >= 2 for c in layer.cardinalities)


def test_regressor_fits_in_the_target_units() -> None:
    est, X, y, _ = _build("regression")
    est.fit(X, y)
    pred = est.predict(X)
    assert pred.shape == (len(X),) and np.isfinite(pred).all()
    assert abs(pred.mean() - y.mean()) < 3 * y.std()


def test_save_and_load_round_trip_in_safe_mode(tmp_path) -> None:
    est, X, y, _ = _build("multiclass")
    est.fit(X, y)
    model = est[-1]
    model.save_native(tmp_path / "m")
    loaded = type(model).load_native(tmp_path / "m")
    Xt = est[0].transform(X)
    np.testing.assert_allclose(loaded.predict_proba(Xt), model.predict_proba(Xt), atol=1e-6)
    assert loaded.family == "realmlp"


def test_each_epoch_is_reported_to_the_pruner_as_log_loss() -> None:
    # About 170 training rows, one batch: each Keras epoch holds 16 passes over them, and the pruner
    # sees the passes so far.
    est, X, y, _ = _build("binary", max_epochs=48, patience=100)
    reports: list[tuple[int, float]] = []
    with fit_budget(report=lambda step, value: reports.append((step, value))):
        est.fit(X, y)
    assert [s for s, _ in reports] == [16, 32, 48]
    assert all(-5.0 < v < 0 for _, v in reports)  # negated log loss without label smoothing


def test_a_small_training_set_is_repeated_within_an_epoch() -> None:
    from search_spaces._keras_model import EPOCH_BATCHES, passes_per_epoch, repeated

    assert passes_per_epoch(225, 256, 256) == EPOCH_BATCHES  # one batch a pass
    assert passes_per_epoch(1000, 256, 256) == EPOCH_BATCHES // 4
    assert passes_per_epoch(225, 256, 3) == 3  # never more passes than the fit's epochs
    assert passes_per_epoch(100_000, 256, 256) == 1
    tr = np.arange(10, 60)
    rows = repeated(tr, 3, seed=0)
    assert len(rows) == 150 and all(np.array_equal(np.sort(rows[i * 50:(i + 1) * 50]), tr) for i in range(3))
    assert not np.array_equal(rows[:50], rows[50:100])  # each pass shuffled apart
    assert repeated(tr, 1, seed=0) is tr


def test_the_learning_rate_follows_the_schedule_step_by_step() -> None:
    from types import SimpleNamespace

    from search_spaces._keras_realmlp import SCHEDULE_UPDATES, EpochSchedule, lr_factor

    schedule = EpochSchedule("coslog4", 0.04, epochs=2)
    schedule.set_model(SimpleNamespace(optimizer=SimpleNamespace(learning_rate=None)))
    schedule.set_params({"steps": 4, "epochs": 2})
    seen = []
    for epoch in range(2):
        schedule.on_epoch_begin(epoch)
        for batch in range(4):
            schedule.on_train_batch_begin(batch)
            seen.append(schedule.model.optimizer.learning_rate)
    expected = [0.04 * lr_factor("coslog4", (i + 0.5) / 8) for i in range(8)]
    np.testing.assert_allclose(seen, expected)
    assert len(set(seen)) == 8  # a new rate before every step, not once an epoch

    steps = SCHEDULE_UPDATES  # many steps: SCHEDULE_UPDATES over the horizon, evenly spaced
    schedule.set_params({"steps": steps, "epochs": 2})
    schedule.on_epoch_begin(0)
    seen = []
    for batch in range(steps):
        schedule.on_train_batch_begin(batch)
        seen.append(schedule.model.optimizer.learning_rate)
    assert len(set(seen)) == SCHEDULE_UPDATES // 2
    assert seen[0] == pytest.approx(0.04 * lr_factor("coslog4", 1 / (2 * steps)))  # the midpoint of steps 0-1


def test_a_two_second_deadline_stops_training_between_batches() -> None:
    est, X, y, _ = _build("regression", n=4000, max_epochs=100_000, patience=100_000)
    est[0].fit(X, y)
    started = time.monotonic()
    with fit_budget(deadline=started + 2.0):
        est.fit(X, y)
    assert est[-1].truncated_ or est[-1].shortened_  # cut short, or its schedule shortened to the deadline
    assert np.isfinite(est.predict(X)).all()


def test_onnx_export_refuses_another_backend_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from automl.export.onnx._errors import OnnxExportError
    from automl.export.onnx._estimators import keras_graph

    est, X, y, _ = _build("binary")
    est.fit(X, y)
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(OnnxExportError, match=r"needs Keras' TensorFlow backend.*KERAS_BACKEND=tensorflow"):
        keras_graph(est[-1], X.shape[1], 2)


def test_training_rows_are_padded_to_whole_batches() -> None:
    """A last, smaller batch is a new shape that JAX compiles the train step again for."""
    from search_spaces._keras_model import whole_batches

    tr = np.arange(1000, 2360)  # 1,360 rows: 5 batches of 256 and one of 80
    padded = whole_batches(tr, 256, seed=0)
    assert len(padded) == 1536 and len(padded) % 256 == 0
    assert np.array_equal(padded[: len(tr)], tr) and set(padded) == set(tr)
    assert len(set(padded[len(tr):])) == len(padded) - len(tr)  # no row repeated twice
    assert np.array_equal(whole_batches(tr[:512], 256, seed=0), tr[:512])  # whole already
    assert len(whole_batches(tr[:100], 256, seed=0)) == 100  # fewer rows than a batch: one shape already


def test_the_deadline_keeps_a_reserve_for_validation_and_predictions() -> None:
    """Before a validation pass is timed, each pass after the last batch counts as a quarter of the
    first batch (which compiles the train step); once timed, the measured seconds count."""
    from search_spaces._keras_model import _budget_callback, import_keras

    keras = import_keras()
    with fit_budget(deadline=time.monotonic() + 60.0):
        callback = _budget_callback(keras, "val_loss", predict_passes=2)(lambda v: v)
    callback.first_batch = 2.0
    assert callback.reserve() == pytest.approx(0.5 * 3)  # the validation pass and two predictions
    callback.first_eval = 0.4
    assert callback.reserve() == pytest.approx(0.4 * 3)
    callback.last_eval = 0.05  # compiled: the next validation pass is quick; predictions compile anew
    assert callback.reserve() == pytest.approx(0.05 + 0.4 * 2)


def test_a_deadline_inside_the_reserve_stops_after_the_first_batch() -> None:
    est, X, y, _ = _build("binary", n=2000, max_epochs=100, patience=100)
    with fit_budget(deadline=time.monotonic() + 0.01):
        est.fit(X, y)
    assert est[-1].truncated_
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_folds_reuse_one_compiled_model_and_get_what_a_new_build_gives(task: str) -> None:
    from sklearn.base import clone

    from search_spaces import _keras_reuse

    est, X, y, _ = _build(task, max_epochs=8)
    out = (lambda m: m.predict_proba(X)) if task != "regression" else (lambda m: m.predict(X))
    _keras_reuse.forget()
    first = clone(est).fit(X, y)
    expected, kept = out(first), _keras_reuse._LAST["model"]
    second = clone(est).fit(X, y)  # the same configuration: the kept model, restored
    assert _keras_reuse._LAST["model"] is kept
    np.testing.assert_allclose(out(second), expected, atol=1e-6)  # what a new build gives
    clone(est).fit(X.iloc[:120], y.iloc[:120])  # another fold trains the kept model again
    np.testing.assert_allclose(out(first), expected)  # each fitted estimator has its own copy
    assert all(m[-1].model_ is not kept for m in (first, second))
    clone(est).set_params(model__hp_values={**est[-1].hp_values, "n_layers": 1}).fit(X, y)
    assert _keras_reuse._LAST["model"] is not kept  # another configuration: built
