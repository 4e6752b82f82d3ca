"""Keras and PyTorch as candidates: pruning, deadlines, the KerasTuner bridge, native persistence."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from recommender import profile_dataset
from search_spaces import fit_budget, get_adapter
from tests.conftest import make_frame

pytest.importorskip("torch")
pytest.importorskip("keras_tuner")

NETWORKS = ["torch", "keras"]
#: Every network family by framework: the torch families (RealMLP, TabM, the plain MLP) and Keras' MLP.
FAMILIES = [("torch", "realmlp"), ("torch", "tabm"), ("torch", "mlp"), ("keras", "mlp")]


def _fitted(name: str, task: str = "binary", n: int = 200, family: str | None = None, **params):
    adapter = get_adapter(name)
    df = make_frame(task, n=n)
    spec = profile_dataset(df, "y").feature_spec()
    configs = adapter.default_configs(spec)
    est = adapter.build(next(c for c in configs if family in (None, c.family)), spec)
    est.set_params(model__max_epochs=params.pop("max_epochs", 5), **{f"model__{k}": v for k, v in params.items()})
    X = df[list(spec.columns)]
    return est.fit(X, df["y"]), X, df["y"]


@pytest.mark.parametrize("name", NETWORKS)
def test_network_trials_are_pruned_with_intermediate_values(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from automl.search import _search

    class PruneAfterFirstEpoch(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return bool(trial.intermediate_values)

    monkeypatch.setattr(_search.optuna.pruners, "SuccessiveHalvingPruner", lambda **kw: PruneAfterFirstEpoch())
    r = automl.fit(make_frame("binary", n=200), "y", time_budget=60, n_trials=2, frameworks=[name])
    assert list(r.leaderboard.state) == ["PRUNED", "PRUNED"]
    for t in r.study.trials:
        # Pruned right after the first epoch: one report, at the passes over the training rows so far
        # (1 for torch; Keras repeats a small training set within an epoch: _keras_model.passes_per_epoch).
        assert len(t.intermediate_values) == 1
        assert name == "keras" or list(t.intermediate_values) == [1]
        assert next(iter(t.intermediate_values.values())) < 0  # negated validation log loss


@pytest.mark.parametrize(("name", "family"), FAMILIES)
def test_a_two_second_deadline_stops_training_within_about_a_second(name: str, family: str) -> None:
    adapter = get_adapter(name)
    df = make_frame("regression", n=4000)
    spec = profile_dataset(df, "y").feature_spec()
    est = adapter.build(next(c for c in adapter.default_configs(spec) if c.family == family), spec)
    est.set_params(model__max_epochs=100_000, model__patience=100_000)
    X, y = df[list(spec.columns)], df["y"]
    est[0].fit(X, y)  # warm imports and the preprocessing outside the timed part
    started = time.monotonic()
    with fit_budget(deadline=started + 2.0):
        est.fit(X, y)
    elapsed = time.monotonic() - started
    # Stopped for its deadline: cut short, or (RealMLP, TabM) its schedule shortened to fit it.
    assert est[-1].truncated_ or getattr(est[-1], "shortened_", False)
    assert elapsed < 3.0, f"stopped {elapsed - 2.0:.2f} s after a 2 s deadline"
    assert np.isfinite(est.predict(X)).all()


class SmallHyperModel:
    """A user's KerasTuner HyperModel with its own hyper-parameter names (built lazily)."""

    def __new__(cls):
        import keras
        import keras_tuner as kt

        class _HM(kt.HyperModel):
            def build(self, hp):
                model = keras.Sequential([keras.Input((hp.get("n_features"),))])
                model.add(keras.layers.Dense(hp.Int("my_units", 8, 32, step=8), activation="relu"))
                if hp.Boolean("my_extra_layer"):
                    with hp.conditional_scope("my_extra_layer", [True]):
                        model.add(keras.layers.Dense(hp.Int("my_extra_units", 4, 16), activation="relu"))
                model.add(keras.layers.Dense(hp.get("n_outputs"), activation="softmax"))
                model.compile(
                    optimizer=keras.optimizers.Adam(hp.Float("my_lr", 1e-3, 1e-2, sampling="log")),
                    loss="sparse_categorical_crossentropy",
                )
                return model

        return _HM()


@pytest.mark.slow
def test_user_hypermodel_competes_in_the_study() -> None:
    hm = SmallHyperModel()
    r = automl.fit(
        make_frame("binary", n=160), "y", time_budget=90, n_trials=4, frameworks=["sklearn"], keras_hypermodel=hm
    )
    board = r.leaderboard
    custom = board[(board.framework == "keras") & (board.model == "custom")]
    assert len(custom) >= 1
    for params in custom.params:
        assert {"my_units", "my_extra_layer", "my_lr"} <= set(params)
        assert ("my_extra_units" in params) == params["my_extra_layer"]
    names = set().union(*(t.params for t in r.study.trials))
    assert "keras.custom.my_units" in names


def test_bridge_maps_types_and_conditions() -> None:
    import keras_tuner as kt

    from search_spaces.keras_bridge import OptunaHyperParameters

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    hp = OptunaHyperParameters(trial, prefix="p")
    a = hp.Int("a", 1, 10, step=3)
    b = hp.Float("b", 1e-3, 1.0, sampling="log")
    c = hp.Choice("c", ["x", "y"])
    d = hp.Boolean("d")
    hp.Fixed("e", 7)
    with hp.conditional_scope("c", ["never"]):
        inactive = hp.Int("f", 0, 5)
    assert a in (1, 4, 7, 10) and 1e-3 <= b <= 1.0 and c in ("x", "y") and isinstance(d, bool)
    assert inactive is None
    dists = trial.distributions
    assert isinstance(dists["p.a"], optuna.distributions.IntDistribution) and dists["p.a"].step == 3
    assert dists["p.b"].log and isinstance(dists["p.c"], optuna.distributions.CategoricalDistribution)
    assert "p.e" not in dists and "p.f" not in dists
    assert isinstance(hp, kt.HyperParameters)
    replay = OptunaHyperParameters(optuna.trial.FixedTrial(trial.params), prefix="p")
    assert replay.Int("a", 1, 10, step=3) == a


@pytest.mark.parametrize(("name", "family"), FAMILIES)
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_native_save_and_load_round_trip(name: str, family: str, task: str, tmp_path) -> None:
    est, X, _ = _fitted(name, task=task, family=family)
    model = est[-1]
    model.save_native(tmp_path)
    loaded = type(model).load_native(tmp_path)
    Xt = est[0].transform(X)
    if task == "regression":
        np.testing.assert_allclose(loaded.predict(Xt), model.predict(Xt), rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(loaded.predict_proba(Xt), model.predict_proba(Xt), atol=1e-6)
        assert list(loaded.classes_) == list(model.classes_)


@pytest.mark.slow
def test_keras_and_torch_coexist_in_one_process() -> None:
    # torch's three defaults (realmlp, tabm, mlp) are queued before Keras's, the cheaper framework first.
    r = automl.fit(make_frame("multiclass", n=160), "y", time_budget=120, n_trials=4, frameworks=["torch", "keras"])
    board = r.leaderboard
    assert set(board.framework) == {"torch", "keras"}
    assert set(board[board.state == "COMPLETE"].framework) == {"torch", "keras"}  # both trained in this process
    assert not (board.state == "FAIL").any(), board[["framework", "model", "state", "failure_reason"]]
    proba = r.predict_proba(make_frame("multiclass", n=20, seed=3))
    assert isinstance(proba, pd.DataFrame) and proba.shape == (20, 3)


def test_networks_are_judged_on_evidence_not_on_the_row_count() -> None:
    # 300 rows used to exclude every network by rule ("rarely beat boosted trees"); now the packaged
    # evidence (10 s searches on the meta-dataset) places or drops PyTorch, and says so.
    rec = automl.recommend(make_frame("binary", n=300), "y", time_budget=60)
    if "torch" in rec.frameworks:
        text = " ".join(next(c for c in rec.candidates if c.framework == "torch").reasons)
    else:
        text = next(e.reason for e in rec.excluded if e.framework == "torch")
        assert "pass frameworks" in text
    assert "similar datasets" in text and "rarely beat" not in text


@pytest.mark.slow
def test_autokeras_native_save_and_load_round_trip(tmp_path) -> None:
    pytest.importorskip("autokeras")
    est, X, _ = _fitted("autokeras", task="binary", n=150, max_epochs=3)
    model = est[-1]
    model.save_native(tmp_path)
    loaded = type(model).load_native(tmp_path)
    Xt = est[0].transform(X)
    np.testing.assert_allclose(loaded.predict_proba(Xt), model.predict_proba(Xt), atol=1e-6)
