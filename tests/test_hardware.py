"""Hardware profiling, with GPU discovery mocked (no GPU on CI)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from recommender import hardware as hw
from recommender.hardware import GPUInfo, parse_nvidia_smi


def test_detects_cores_and_memory() -> None:
    prof = hw.detect_hardware(refresh=True)
    assert prof.logical_cores >= 1 and 1 <= prof.physical_cores <= prof.logical_cores
    assert prof.ram_total_gb > 0 and 0 < prof.ram_available_gb <= prof.ram_total_gb
    assert prof.frameworks["sklearn"].installed
    assert prof.frameworks["sklearn"].version


def test_parse_nvidia_smi() -> None:
    text = "0, NVIDIA H100 80GB HBM3, 81559\n1, Tesla T4, 15360\n"
    assert parse_nvidia_smi(text) == [
        GPUInfo(0, "NVIDIA H100 80GB HBM3", 81559), GPUInfo(1, "Tesla T4", 15360),
    ]
    assert parse_nvidia_smi("garbage\n") == []


def test_gpu_found_via_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(hw, "_gpus_from_nvml", lambda: None)
    monkeypatch.setattr(hw.shutil, "which", lambda name: "/usr/bin/nvidia-smi")

    def fake_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 0, stdout="0, NVIDIA A100-SXM4-40GB, 40960\n", stderr="")

    monkeypatch.setattr(hw.subprocess, "run", fake_run)
    prof = hw.detect_hardware(refresh=True)
    try:
        assert prof.gpus == (GPUInfo(0, "NVIDIA A100-SXM4-40GB", 40960),)
        xgb = prof.frameworks["xgboost"]
        assert xgb.can_use_gpu and "CUDA" in xgb.gpu_reason
        assert not prof.frameworks["sklearn"].can_use_gpu
    finally:
        hw.detect_hardware(refresh=True)


def test_cuda_visible_devices_empty_hides_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr(hw, "_gpus_from_nvml", lambda: [GPUInfo(0, "x", 1)])
    assert hw.detect_gpus() == []


def test_no_gpu_gives_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    status = hw.framework_statuses([])["xgboost"]
    assert not status.can_use_gpu and "no NVIDIA GPU" in status.gpu_reason


@pytest.mark.parametrize(
    "framework, version, dists, expected",
    [
        ("torch", "2.13.0+cpu", set(), False),
        ("torch", "2.13.0", {"nvidia-cuda-runtime-cu12"}, True),
        ("keras", "3.12.4", set(), False),
        ("keras", "3.12.4", {"nvidia-cudnn-cu12"}, True),
        ("xgboost", "3.2.0", set(), True),
        ("xgboost", "3.2.0", {"xgboost-cpu"}, False),
        ("catboost", "1.2.10", set(), platform.system() != "Darwin"),
        ("lightgbm", "4.7.0", set(), False),
    ],
)
def test_gpu_build_read_from_metadata(framework, version, dists, expected) -> None:
    assert hw._gpu_build(framework, version, dists)[0] is expected


def test_hardware_probe_imports_no_framework() -> None:
    code = (
        "import sys; from recommender import detect_hardware; detect_hardware(); "
        "print(any(m in sys.modules for m in ('torch', 'tensorflow', 'xgboost', 'lightgbm', 'catboost')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
