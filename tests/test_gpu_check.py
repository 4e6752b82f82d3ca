"""make gpu-check without a GPU: discovery mocked, each check's process stubbed, one check run for real
on the CPU; and the calibration it writes changing the recommender's GPU figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import _gpu_checks, gpu_check
from recommender import FrameworkStatus, GPUInfo, HardwareProfile, profile_dataset
from recommender.calibration import fit_network, parse
from recommender.cost import GPU_FLOPS, PLAIN_MLP, encoded_width, epoch_seconds, estimate_fit_seconds
from recommender.ranking import _epoch_reason
from search_spaces import get_adapter
from tests.conftest import make_frame

FAKE_GPU = "Fake H200"


def hardware(gpus: bool = True, missing: tuple[str, ...] = ()) -> HardwareProfile:
    names = ("sklearn", "xgboost", "lightgbm", "catboost", "torch", "keras")
    frameworks = {
        n: FrameworkStatus(n, n, None if n in missing else "1.0", n not in missing, True, gpus, "a CUDA build")
        for n in names
    }
    return HardwareProfile(2, 2, 8.0, 4.0, (GPUInfo(0, FAKE_GPU, 143_000),) if gpus else (), frameworks)


POINTS = [{"rows": 42_500, "batch_size": 128, "flops_per_row": 136_704.0, "seconds_per_epoch": 0.40},
          {"rows": 42_500, "batch_size": 1024, "flops_per_row": 136_704.0, "seconds_per_epoch": 0.06}]


def fake_result(name: str) -> dict[str, Any]:
    """What each check's process would report on a GPU: realmlp fails its device assertion, JAX is missing."""
    if name == "torch-realmlp":
        return {"status": "failed", "reason": "device assertion failed: the network's parameters are on ['cpu']"}
    if name == "keras-jax":
        return {"status": "skipped", "reason": "jax is not installed (pip install 'jax[cuda12]')"}
    network = name.startswith(("torch", "keras"))
    out = {"status": "ok", "reason": "", "device_asserted": f"{name} on cuda", "speedup": 12.0,
           "measured": {"rows": 50_000, "fit_seconds": 3.0, "epochs": 6, "seconds_per_epoch": 0.4},
           "cpu": {"rows": 4_000, "fit_seconds": 2.0, "epochs": 2, "seconds_per_epoch": 0.5 if network else 0.1}}
    if name == "torch-mlp":
        out["calibration"] = POINTS
    return out


def run_main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, profile: HardwareProfile, *args: str) -> int:
    monkeypatch.setattr(gpu_check, "discover", lambda: profile)
    monkeypatch.setattr(gpu_check, "run_check", lambda name, *a, **k: fake_result(name))
    return gpu_check.main(["--out-dir", str(tmp_path), "--calibration", str(tmp_path / "cache.json"), *args])


def test_no_gpu_says_so_and_exits_with_its_own_code(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(gpu_check, "discover", lambda: hardware(gpus=False))
    assert gpu_check.main(["--out-dir", str(tmp_path)]) == gpu_check.EXIT_NO_GPU == 3
    err = capsys.readouterr().err
    assert "no NVIDIA CUDA GPU found" in err and "--device cpu" in err
    assert not list(tmp_path.iterdir())  # nothing measured, nothing written


def test_real_discovery_honours_hidden_gpus(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu_check.main(["--out-dir", str(tmp_path)]) == 3
    assert "CUDA_VISIBLE_DEVICES=''" in capsys.readouterr().err


def test_a_failed_device_assertion_fails_the_run_and_a_missing_library_is_skipped(monkeypatch, tmp_path, capsys):
    code = run_main(monkeypatch, tmp_path, hardware(missing=("keras",)))
    assert code == gpu_check.EXIT_FAILED
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    status = {c["check"]: c["status"] for c in report["checks"]}
    assert status == {"xgboost": "ok", "catboost": "ok", "torch-realmlp": "failed", "torch-tabm": "ok",
                      "torch-mlp": "ok", "keras-tensorflow": "skipped", "keras-jax": "skipped"}
    assert report["failed"] == ["torch-realmlp"] and report["gpu"] == FAKE_GPU
    keras = next(c for c in report["checks"] if c["check"] == "keras-tensorflow")
    assert keras["reason"] == "keras is not installed"
    md = (tmp_path / "gpu_check.md").read_text()
    assert "| torch-realmlp | failed |" in md and "device assertion failed" in md
    assert "| torch-mlp | ok | 3 | 6 | 0.4 | 0.5 (4,000) | 12x |" in md
    out = capsys.readouterr()
    assert "| xgboost | ok |" in out.out and "FAILED: torch-realmlp" in out.err
    cal = parse(json.loads((tmp_path / "cache.json").read_text()), "cache.json")
    assert cal.gpu == FAKE_GPU and set(cal.networks) == {"torch"} and cal.tree_speedups == {"xgboost": 12.0,
                                                                                          "catboost": 12.0}


def test_all_checks_passing_exit_zero(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_check, "discover", lambda: hardware())
    passing = {**fake_result("torch-tabm"), "calibration": None}
    monkeypatch.setattr(gpu_check, "run_check", lambda name, *a, **k: passing)
    assert gpu_check.main(["--out-dir", str(tmp_path), "--calibration", str(tmp_path / "c.json")]) == 0
    assert json.loads((tmp_path / "c.json").read_text())["networks"] == {}


def test_the_child_reports_skips_and_device_failures(monkeypatch):
    def skip(*a: Any) -> dict[str, Any]:
        raise _gpu_checks.SkipCheck("xgboost is not installed")

    def wrong_device(*a: Any) -> dict[str, Any]:
        raise _gpu_checks.DeviceAssertionError("the booster's saved config says device='cpu', not cuda")

    monkeypatch.setitem(_gpu_checks.CHECKS, "xgboost", skip)
    monkeypatch.setitem(_gpu_checks.CHECKS, "catboost", wrong_device)
    assert gpu_check.child("xgboost", "cuda", 1000, 5)["status"] == "skipped"
    failed = gpu_check.child("catboost", "cuda", 1000, 5)
    assert failed["status"] == "failed" and failed["reason"].startswith("device assertion failed: the booster")


def test_a_cuda_check_without_a_cuda_build_is_skipped():
    result = gpu_check.child("torch-mlp", "cuda", 1000, 5)  # torch here is the CPU build
    assert result["status"] == "skipped" and "no CUDA build" in result["reason"]


def test_the_torch_check_runs_for_real_on_the_cpu():
    result = gpu_check.child("torch-mlp", "cpu", 2000, 20)
    assert result["status"] == "ok", result
    assert result["device_asserted"] == "parameters on cpu"
    assert result["measured"]["epochs"] >= 1 and result["measured"]["seconds_per_epoch"] > 0
    assert [p["batch_size"] for p in result["calibration"]] == [128, 1024]
    assert fit_network(result["calibration"]).batch_seconds > 0


@pytest.mark.slow
def test_the_dry_run_on_the_cpu_end_to_end(tmp_path):
    """The real child processes: make gpu-check ARGS='--device cpu --checks torch-mlp xgboost'."""
    assert gpu_check.main(["--device", "cpu", "--checks", "torch-mlp", "xgboost", "--rows", "2000",
                           "--out-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check_cpu.json").read_text())
    assert [c["status"] for c in report["checks"]] == ["ok", "ok"]
    assert report["checks"][1]["device_asserted"] == "booster config device=cpu"
    assert not (tmp_path / "gpu_calibration.json").exists()  # CPU figures never calibrate the GPU


# -- the calibration read by the cost model ---------------------------------------------------
def test_fit_network_recovers_the_per_batch_seconds_and_throughput():
    o, flops = 0.002, 5e12
    points = [{"rows": 40_000, "batch_size": b, "flops_per_row": 1e5,
               "seconds_per_epoch": 40_000 * 1e5 / flops + 40_000 / b * o} for b in (128, 1024)]
    fitted = fit_network(points)
    assert fitted.batch_seconds == pytest.approx(o) and fitted.flops == pytest.approx(flops)
    assert fit_network(points[:1]).flops is None


def _calibration_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: Any) -> None:
    path = tmp_path / "gpu_calibration.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    monkeypatch.setenv("AUTOML_GPU_CALIBRATION", str(path))


def test_a_calibration_changes_the_gpu_prediction_and_says_where_it_comes_from(tmp_path, monkeypatch):
    profile = profile_dataset(make_frame("binary", n=300), "y")
    torch, xgb, hw = get_adapter("torch"), get_adapter("xgboost"), hardware(gpus=False)
    assumed = epoch_seconds(torch, profile, hw, "cuda")
    assert "assumes 2 TFLOP/s" in _epoch_reason(torch, profile, hw, "cpu", 1.0)
    assert "GPU assumed 5x faster" in estimate_fit_seconds(xgb, profile, hw, "cuda").explanation
    _calibration_file(tmp_path, monkeypatch, {"schema": 1, "gpu": FAKE_GPU, "date": "2026-01-02",
                                              "networks": {"torch": POINTS}, "tree_speedups": {"xgboost": 20.0}})
    measured = epoch_seconds(torch, profile, hw, "cuda")
    fitted = fit_network(POINTS)
    work = profile.n_rows * 6.0 * (encoded_width(profile) * 128 + 128 * 128)
    assert measured != assumed
    plain = epoch_seconds(torch, profile, hw, "cuda", shape=PLAIN_MLP)  # torch's default is the mean of its families
    assert plain == pytest.approx(work / (fitted.flops or GPU_FLOPS) + profile.n_rows / 128 * fitted.batch_seconds)
    basis = f"measured on {FAKE_GPU} by make gpu-check on 2026-01-02"
    assert basis in _epoch_reason(torch, profile, hw, "cpu", 1.0)
    assert f"20x faster ({basis})" in estimate_fit_seconds(xgb, profile, hw, "cuda").explanation
    assert epoch_seconds(torch, profile, hw, "cpu") == epoch_seconds(torch, profile, hw, "cpu")  # CPU untouched
    assert "assumes" in _epoch_reason(get_adapter("keras"), profile, hw, "cpu", 1.0)  # keras not measured


BAD_SPEEDUP = {"schema": 1, "gpu": "x", "date": "d", "tree_speedups": {"xgboost": -1}}


@pytest.mark.parametrize("content", ["{not json", json.dumps({"schema": 1, "gpu": "x"}), json.dumps(BAD_SPEEDUP)])
def test_a_malformed_calibration_warns_and_falls_back_to_the_constants(tmp_path, monkeypatch, content):
    profile = profile_dataset(make_frame("binary", n=300), "y")
    torch, hw = get_adapter("torch"), hardware(gpus=False)
    assumed = epoch_seconds(torch, profile, hw, "cuda")
    _calibration_file(tmp_path, monkeypatch, content)
    with pytest.warns(UserWarning, match=r"gpu_calibration.json is unusable .*assumed GPU figures.*make gpu-check"):
        assert epoch_seconds(torch, profile, hw, "cuda") == assumed
