"""RealMLP and TabM (the torch adapter's published families): what the shared suites do not reach.

The conformance suite (tests/test_adapters.py) fits every family of every adapter; tests/test_networks.py
checks deadlines and native round trips per family. Here: reports to the pruner, CPU threads, the
mixed-precision path (forced on the CPU: no GPU here), the ensemble's averaging and the schedules.
"""

from __future__ import annotations

import json
import math

import numpy as np
import optuna
import pytest

from recommender import profile_dataset
from search_spaces import fit_budget, get_adapter
from tests.conftest import make_frame

torch = pytest.importorskip("torch")

FAMILIES = ["realmlp", "tabm"]


def _pipeline(family: str, task: str = "binary", n: int = 120, **params):
    adapter = get_adapter("torch")
    df = make_frame(task, n=n)
    spec = profile_dataset(df, "y").feature_spec()
    config = next(c for c in adapter.default_configs(spec) if c.family == family)
    est = adapter.build(config, spec)
    if family == "tabm":  # a small ensemble keeps these tests fast; the code paths are the same
        params = {"k": 4, "d_block": 32, **params}
    est.set_params(**{f"model__{k}": v for k, v in {"max_epochs": 3, **params}.items()})
    return est, df[list(spec.columns)], df["y"]


def test_the_published_families_come_first_with_their_papers_defaults() -> None:
    spec = profile_dataset(make_frame("binary"), "y").feature_spec()
    configs = get_adapter("torch").default_configs(spec)
    assert [c.family for c in configs] == ["realmlp", "tabm", "mlp"]
    realmlp, tabm = configs[0].params, configs[1].params
    assert realmlp["learning_rate"] == 0.04 and realmlp["schedule"] == "coslog4" and realmlp["hidden_units"] == 256
    assert tabm["k"] == 32 and tabm["n_blocks"] == 3 and tabm["arch"] == "tabm-mini"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_epoch_is_reported_and_a_report_can_prune(family: str) -> None:
    est, X, y = _pipeline(family)
    reports: list[tuple[int, float]] = []
    with fit_budget(report=lambda step, value: reports.append((step, value))):
        est.fit(X, y)
    assert [s for s, _ in reports] == list(range(1, est[-1].n_epochs_ + 1)) and len(reports) == 3
    assert all(v < 0 for _, v in reports)  # negated validation log loss

    def prune(step: int, value: float) -> None:
        raise optuna.TrialPruned("stop")

    with pytest.raises(optuna.TrialPruned), fit_budget(report=prune):
        est.fit(X, y)


@pytest.mark.parametrize("family", FAMILIES)
def test_n_jobs_sets_torch_threads_for_the_fit_only(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    est, X, y = _pipeline(family, n_jobs=2)
    calls: list[int] = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    before = torch.get_num_threads()
    est.fit(X, y)
    assert calls == [2, before]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("amp", ["bfloat16", "float16"])
def test_mixed_precision_path_trains_under_autocast(family: str, amp: str, task: str) -> None:
    """The CUDA path's autocast (and, for float16, the GradScaler), forced on the CPU."""
    est, X, y = _pipeline(family, task=task, amp=amp)
    est.fit(X, y)
    model = est[-1]
    assert math.isfinite(model.best_validation_loss_)
    if task == "regression":
        assert np.isfinite(est.predict(X)).all()
    else:
        np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0, atol=1e-5)


def test_auto_precision_is_bfloat16_on_a_gpu_that_has_it_else_float16(monkeypatch: pytest.MonkeyPatch) -> None:
    from search_spaces._torch_tabular import amp_dtype

    cuda = torch.device("cuda")
    assert amp_dtype("auto", torch.device("cpu")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert amp_dtype("auto", cuda) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert amp_dtype("auto", cuda) is torch.float16
    assert amp_dtype("none", cuda) is None
    with pytest.raises(ValueError, match="amp must be one of .*got 'fp8'"):
        amp_dtype("fp8", cuda)


def test_tabm_predicts_the_mean_of_its_members_probabilities() -> None:
    from search_spaces._torch_tabular import split_inputs

    est, X, y = _pipeline("tabm", task="multiclass", arch="tabm")
    est.fit(X, y)
    model, Xt = est[-1], est[0].transform(X)
    Xt = np.asarray(Xt, dtype=np.float64)
    xn, xc = split_inputs(Xt, model.n_categorical, model.cardinalities_, torch.device("cpu"))
    with torch.no_grad():
        members = torch.softmax(model.network_.members(xn, xc), dim=-1).mean(dim=1).numpy()
    assert model.network_.members(xn, xc).shape[1] == 4
    np.testing.assert_allclose(model.predict_proba(Xt), members, atol=1e-5)


def test_tabm_loss_is_the_mean_of_the_members_losses() -> None:
    from search_spaces._tabm_model import TabMClassifier

    out = torch.randn(5, 3, 4)  # batch, members, classes
    y = torch.tensor([0, 1, 2, 3, 1])
    est = TabMClassifier()
    expected = torch.stack([torch.nn.functional.cross_entropy(out[:, i], y) for i in range(3)]).mean()
    torch.testing.assert_close(est._loss(out, y, None), expected)


def test_realmlp_schedules() -> None:
    from search_spaces._realmlp_model import coslog4, flat_cos

    assert coslog4(0.0) == pytest.approx(0.0) and coslog4(1.0) == pytest.approx(0.0, abs=1e-12)
    cycle_ends = [(2**j - 1) / 15 for j in range(1, 5)]  # four cycles, evenly spaced in log time
    assert all(coslog4(t) == pytest.approx(0.0, abs=1e-12) for t in cycle_ends)
    assert coslog4((2**0.5 - 1) / 15) == pytest.approx(1.0)
    assert flat_cos(0.25) == 1.0 and flat_cos(1.0) == pytest.approx(0.0, abs=1e-12)


def test_robust_scaling_clips_outliers_smoothly() -> None:
    from search_spaces._torch_tabular import RobustScaleClip

    x = np.column_stack([np.arange(101.0), np.r_[np.zeros(100), 1.0], np.ones(101)])
    scaler = RobustScaleClip(3)
    scaler.fit(x)
    out = scaler(torch.as_tensor([[50.0, 0.0, 1.0], [500.0, 1.0, 5.0]])).numpy()
    np.testing.assert_allclose(out[0], [0.0, 0.0, 0.0], atol=1e-6)  # the median maps to 0; constants to 0
    assert out[1, 0] == pytest.approx(9 / math.sqrt(10), rel=1e-5)  # z = 9, smoothly clipped below 3
    assert out[1, 1] > 0 and out[1, 2] == 0.0  # quartiles equal: 2 / (max - min) instead of 1 / IQR


def test_bad_settings_name_the_argument() -> None:
    est, X, y = _pipeline("tabm", arch="wide")
    with pytest.raises(ValueError, match="arch must be one of .*got 'wide'"):
        est.fit(X, y)
    est, X, y = _pipeline("realmlp", schedule="cosine")
    with pytest.raises(ValueError, match="schedule must be one of .*got 'cosine'"):
        est.fit(X, y)


def test_benchmark_command_scores_each_familys_best_trial(tmp_path, capsys) -> None:
    from benchmarks import torch_families

    make_frame("multiclass", n=200).drop(columns="when").to_csv(tmp_path / "toy.csv.gz", index=False)
    entry = {"name": "toy", "file": "toy.csv.gz", "target": "y", "task": "multiclass"}
    (tmp_path / "manifest.json").write_text(json.dumps([entry]))
    out = tmp_path / "out.jsonl"
    argv = ["--budget", "2", "--datasets", "toy", "--families", "mlp", "tabm", "--suite", str(tmp_path)]
    argv += ["--out", str(out)]
    assert torch_families.main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["family"] for r in rows] == ["mlp", "tabm"]
    for r in rows:
        assert r["trials"] >= 1 and r["seconds"] < 4 and r["test_logloss"] > 0 and 0 <= r["test_accuracy"] <= 1
    assert "test_logloss" in capsys.readouterr().out


@pytest.mark.parametrize("family", FAMILIES)
def test_label_smoothing_is_followed_by_temperature_scaling(family: str) -> None:
    """Label smoothing flattens probabilities; a temperature fitted on the validation split restores
    the log loss, and it lives in the network (saved with it, and seen by the ONNX export)."""
    est, X, y = _pipeline(family, task="multiclass", n=200, label_smoothing=0.1, max_epochs=5)
    est.fit(X, y)
    model = est[-1]
    assert 0.1 - 1e-6 <= model.temperature_ <= 10.0 + 1e-6
    assert float(model.network_.temperature) == pytest.approx(model.temperature_)
    est.set_params(model__label_smoothing=0.0).fit(X, y)
    assert est[-1].temperature_ == 1.0 and float(est[-1].network_.temperature) == 1.0


@pytest.mark.parametrize("family", FAMILIES)
def test_the_fit_leaves_time_to_predict_the_rows_the_caller_will_score(family: str) -> None:
    """A fold's validation rows are predicted before the trial's deadline: TabM predicts k members
    per row, so on 5,000 validation rows that took 2-3 s past a deadline the fit alone had kept."""
    import time

    est, X, y = _pipeline(family, max_epochs=50)
    with fit_budget(deadline=time.monotonic() + 30.0, predict_rows=10**12):  # far too many to predict in time
        est.fit(X, y)
    # Stopped after its first batch: cut short, or (one batch per epoch) its schedule shortened to it.
    assert (est[-1].truncated_ or est[-1].shortened_) and est[-1].n_epochs_ == 1
    with fit_budget(deadline=time.monotonic() + 30.0, predict_rows=len(X)):
        est.fit(X, y)
    assert est[-1].n_epochs_ > 1


def test_a_budget_is_expired_when_the_rows_to_predict_no_longer_fit() -> None:
    import time

    from search_spaces._budget import FitBudget

    budget = FitBudget(deadline=time.monotonic() + 10.0, predict_rows=1_000)
    assert not budget.expired() and not budget.expired(seconds_per_row=0.001)  # 1 s of 10
    assert budget.expired(seconds_per_row=0.02)  # 20 s of predictions do not fit
    assert not FitBudget(predict_rows=1_000).expired(seconds_per_row=1.0)  # no deadline
