"""Hardware profiling: cores, memory, GPUs and which installed frameworks can use them.

Nothing here imports a deep-learning framework: GPUs come from ``nvidia-smi`` (or NVML through
``pynvml`` when installed), framework versions and CUDA builds from package metadata.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from search_spaces import all_adapters, get_adapter


@dataclass(frozen=True)
class GPUInfo:
    index: int
    name: str
    memory_mb: int


@dataclass(frozen=True)
class FrameworkStatus:
    """Whether a framework is installed, its version, and whether it can use a GPU here (and why)."""

    name: str
    distribution: str
    version: str | None
    installed: bool
    gpu_build: bool
    can_use_gpu: bool
    gpu_reason: str


@dataclass(frozen=True)
class HardwareProfile:
    physical_cores: int
    logical_cores: int
    ram_total_gb: float
    ram_available_gb: float
    gpus: tuple[GPUInfo, ...]
    frameworks: dict[str, FrameworkStatus] = field(default_factory=dict)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    def can_use_gpu(self, framework: str) -> bool:
        status = self.frameworks.get(framework)
        return bool(status and status.can_use_gpu)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HardwareProfile:
        """Inverse of :meth:`to_dict` (used when a saved run is loaded)."""
        fields = dict(d)
        fields["gpus"] = tuple(GPUInfo(**g) for g in d.get("gpus", ()))
        fields["frameworks"] = {k: FrameworkStatus(**v) for k, v in d.get("frameworks", {}).items()}
        return cls(**fields)

    def summary(self) -> str:
        gpus = ", ".join(f"{g.name} ({g.memory_mb / 1024:.0f} GB)" for g in self.gpus) or "none"
        lines = [
            f"CPU: {self.physical_cores} physical / {self.logical_cores} logical cores; "
            f"RAM: {self.ram_available_gb:.1f} of {self.ram_total_gb:.1f} GB available; GPUs: {gpus}"
        ]
        for s in self.frameworks.values():
            state = f"{s.version}" if s.installed else "not installed"
            lines.append(f"  {s.name:<10} {state:<16} GPU: {'yes' if s.can_use_gpu else 'no'} ({s.gpu_reason})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<div><b>Hardware</b><pre>" + self.summary().replace("<", "&lt;") + "</pre></div>"


def _gpus_from_nvml() -> list[GPUInfo] | None:
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVML present but no driver: no GPU usable
        return None
    try:
        out = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle).total // 2**20
            out.append(GPUInfo(i, name.decode() if isinstance(name, bytes) else str(name), int(mem)))
        return out
    finally:
        pynvml.nvmlShutdown()


def parse_nvidia_smi(text: str) -> list[GPUInfo]:
    """Parse ``nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits``."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            gpus.append(GPUInfo(int(parts[0]), parts[1], int(float(parts[2]))))
        except ValueError:
            continue
    return gpus


def _gpus_from_nvidia_smi() -> list[GPUInfo]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        proc = subprocess.run(
            [exe, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_nvidia_smi(proc.stdout) if proc.returncode == 0 else []


def detect_gpus() -> list[GPUInfo]:
    """NVIDIA GPUs visible to this process (honours ``CUDA_VISIBLE_DEVICES=""``)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return []
    found = _gpus_from_nvml()
    return found if found is not None else _gpus_from_nvidia_smi()


def _installed_distributions() -> set[str]:
    names = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            names.add(name.lower().replace("_", "-"))
    return names


def _gpu_build(framework: str, version: str | None, dists: set[str]) -> tuple[bool, str]:
    """Whether the installed build of ``framework`` is CUDA-enabled, judged from metadata alone
    (the adapter's :meth:`~search_spaces.FrameworkAdapter.gpu_build`)."""
    if version is None:
        return False, "not installed"
    return get_adapter(framework).gpu_build(version, dists)


def framework_statuses(gpus: list[GPUInfo] | tuple[GPUInfo, ...]) -> dict[str, FrameworkStatus]:
    dists = _installed_distributions()
    out = {}
    for adapter in all_adapters():
        version = adapter.version() if adapter.is_installed() else None
        installed = version is not None
        if adapter.supports_gpu:
            gpu_build, why = _gpu_build(adapter.name, version, dists)
        else:
            gpu_build, why = False, f"{adapter.display_name} runs on the CPU only"
        can = installed and gpu_build and bool(gpus)
        if installed and gpu_build and not gpus:
            why = f"{why}, but no NVIDIA GPU is visible"
        out[adapter.name] = FrameworkStatus(
            adapter.name, adapter.distribution, version, installed, gpu_build, can, why
        )
    return out


@functools.lru_cache(maxsize=1)
def _cached() -> HardwareProfile:
    return _detect()


def _detect() -> HardwareProfile:
    gpus = tuple(detect_gpus())
    mem = psutil.virtual_memory()
    logical = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    physical = psutil.cpu_count(logical=False) or logical
    try:
        logical = min(logical, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        pass
    return HardwareProfile(
        physical_cores=min(physical, logical),
        logical_cores=logical,
        ram_total_gb=mem.total / 2**30,
        ram_available_gb=mem.available / 2**30,
        gpus=gpus,
        frameworks=framework_statuses(gpus),
    )


def detect_hardware(*, refresh: bool = False) -> HardwareProfile:
    """The hardware profile of this machine (cached; ``refresh=True`` probes again)."""
    if refresh:
        _cached.cache_clear()
    return _cached()
