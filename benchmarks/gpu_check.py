"""GPU proof in one command (``make gpu-check``, under 8 minutes): every GPU path fitted on a GPU.

Finds the NVIDIA GPUs with the project's hardware discovery (NVML or ``nvidia-smi``); with none it
says so and exits with code 3. Otherwise each check runs in a process of its own with a time cap
(one framework's CUDA initialisation cannot break the next; TensorFlow and JAX each start fresh):
XGBoost ``device="cuda"``, CatBoost ``task_type="GPU"``, each torch family (realmlp, tabm, mlp)
and the Keras MLP on TensorFlow and on JAX, all built by the project's adapters. Each fits a
generated 50,000 x 50 binary problem (fixed seed), asserts the device really used (the booster's
saved config, the trained task type, the parameters' device and CUDA memory, the Keras variables'
device), and measures fit seconds, epochs and seconds per epoch; the same fit on one CPU core for
a slice of the rows gives the per-row speedup. A check whose library or CUDA build is missing is
"skipped", not failed. Prints a table, writes ``benchmarks/results/gpu_check.json`` and ``.md``,
and the calibration :mod:`recommender.calibration` reads (the user cache, a copy in
``benchmarks/results/gpu_calibration.json``; ``--ship`` also writes the packaged reference).
Exit code 1 when a check that ran failed or its device assertion failed.

    python -m benchmarks.gpu_check                  # on a machine with an NVIDIA GPU
    python -m benchmarks.gpu_check --device cpu     # dry run of every code path on the CPU (no calibration)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._gpu_checks import CHECKS, DeviceAssertionError, SkipCheck
from benchmarks.dev_suite import RESULTS

EXIT_FAILED = 1
EXIT_NO_GPU = 3
#: Seconds each check may fit (the child's process gets ``IMPORT_SECONDS`` more); the whole run
#: stops starting checks once ``TOTAL_SECONDS`` are spent, so it ends within 8 minutes.
CAPS = {"xgboost": 45, "catboost": 45, "torch-realmlp": 55, "torch-tabm": 55, "torch-mlp": 70,
        "keras-tensorflow": 60, "keras-jax": 50}
IMPORT_SECONDS = 25
TOTAL_SECONDS = 450
#: The adapter whose FrameworkStatus (installed, CUDA build) decides a skip before a process starts.
FRAMEWORK = {"xgboost": "xgboost", "catboost": "catboost", "torch-realmlp": "torch", "torch-tabm": "torch",
             "torch-mlp": "torch", "keras-tensorflow": "keras", "keras-jax": None}
BACKEND = {"keras-tensorflow": "tensorflow", "keras-jax": "jax"}


def discover() -> Any:
    """This machine's hardware profile, probed afresh (GPUs through NVML or nvidia-smi)."""
    from recommender.hardware import detect_hardware

    return detect_hardware(refresh=True)


def no_gpu_message() -> str:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    hint = f" CUDA_VISIBLE_DEVICES={visible!r} hides every GPU." if visible in ("", "-1") else ""
    return (
        "gpu-check: no NVIDIA CUDA GPU found (neither NVML nor nvidia-smi lists one)." + hint
        + " Nothing was measured and the recommender keeps its assumed GPU figures. Run `make gpu-check`"
        " on a machine with an NVIDIA GPU and its driver, or `python -m benchmarks.gpu_check --device cpu`"
        " for a dry run of the code paths on the CPU."
    )


def pre_skip(name: str, device: str, profile: Any) -> str | None:
    """Why ``name`` cannot run here, from the hardware profile (installed, CUDA build); None: run it."""
    framework = FRAMEWORK[name]
    status = profile.frameworks.get(framework) if framework else None
    if framework and status is None:
        return f"the {framework} adapter is not registered"
    if status is not None and not status.installed:
        return f"{framework} is not installed"
    if status is not None and device == "cuda" and not status.gpu_build:
        return status.gpu_reason
    return None


def child_env(name: str) -> dict[str, str]:
    env = dict(os.environ)
    if name in BACKEND:
        env["KERAS_BACKEND"] = BACKEND[name]
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # JAX would otherwise take 75% of the GPU's memory
    return env


def run_check(name: str, device: str, rows: int, cap: float, timeout: float) -> dict[str, Any]:
    """Run one check in a fresh process; its result, or 'failed' with why (timeout, crash)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--child", name, "--device", device,
               "--rows", str(rows), "--cap", str(cap), "--child-out", str(out)]
        try:
            proc = subprocess.run(cmd, env=child_env(name), capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            return {"status": "failed", "reason": f"timed out after {timeout:.0f} s"}
        if out.is_file():
            return json.loads(out.read_text())
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        return {"status": "failed", "reason": f"the check's process exited {proc.returncode}: " + " | ".join(tail)}


def child(name: str, device: str, rows: int, cap: float) -> dict[str, Any]:
    """Inside the check's process: run it, turning a skip or a failed assertion into a result."""
    started = time.monotonic()
    try:
        result = {"status": "ok", "reason": "", **CHECKS[name](device, rows, cap)}
    except SkipCheck as e:
        result = {"status": "skipped", "reason": str(e)}
    except DeviceAssertionError as e:
        result = {"status": "failed", "reason": f"device assertion failed: {e}"}
    except Exception as e:  # any other error fails this check only; the run goes on
        result = {"status": "failed", "reason": f"{type(e).__name__}: {e}"}
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def run_all(names: list[str], device: str, rows: int, profile: Any, total: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + total
    results = []
    for name in names:
        skip = pre_skip(name, device, profile)
        left = deadline - time.monotonic()
        if skip is not None:
            result = {"status": "skipped", "reason": skip}
        elif left < 20:
            result = {"status": "failed", "reason": f"not run: the {total:.0f} s budget of the whole check was spent"}
        else:
            cap = min(CAPS[name], left - IMPORT_SECONDS / 2)
            result = run_check(name, device, rows, cap, timeout=min(cap + IMPORT_SECONDS, left))
        results.append({"check": name, **result})
        print(f"  {name:<17} {result['status']:<8} {result.get('reason') or result.get('device_asserted', '')}",
              flush=True)
    return results


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(results: list[dict[str, Any]]) -> str:
    head = ("| check | status | fit s | epochs | s/epoch | CPU s/epoch (rows) | speedup/row "
            "| device asserted, or why |\n|---|---|---:|---:|---:|---:|---:|---|")
    lines = [head]
    for r in results:
        m, c = r.get("measured") or {}, r.get("cpu") or {}
        network = r["check"].startswith(("torch", "keras"))
        cpu_unit = c.get("seconds_per_epoch") if network else c.get("fit_seconds")
        cpu = f"{_cell(cpu_unit, '.3g')} ({c['rows']:,})" if c else "-"
        why = r.get("device_asserted") if r["status"] == "ok" else r.get("reason", "")
        lines.append(
            f"| {r['check']} | {r['status']} | {_cell(m.get('fit_seconds'), '.3g')} | "
            f"{_cell(m.get('epochs') if network else None, 'd')} | "
            f"{_cell(m.get('seconds_per_epoch') if network else None, '.3g')} | {cpu} | "
            f"{_cell(r.get('speedup'), '.3g')}x | {str(why).replace('|', '/')} |"
        )
    return "\n".join(lines)


def calibration(results: list[dict[str, Any]], gpu: str, date: str) -> dict[str, Any] | None:
    """The calibration file's content from the checks that passed; None when nothing was measured."""
    ok = {r["check"]: r for r in results if r["status"] == "ok"}
    networks = {fw: ok[name]["calibration"] for fw, name in (("torch", "torch-mlp"), ("keras", "keras-tensorflow"))
                if name in ok and ok[name].get("calibration")}
    trees = {name: ok[name]["speedup"] for name in ("xgboost", "catboost") if name in ok and ok[name].get("speedup")}
    if not networks and not trees:
        return None
    families = {r["check"]: r["measured"] for r in ok.values() if r["check"].startswith(("torch", "keras"))}
    return {"schema": 1, "gpu": gpu, "date": date, "source": "make gpu-check (benchmarks/gpu_check.py)",
            "networks": networks, "tree_speedups": trees, "measured": families}


def write_calibration(content: dict[str, Any], paths: list[Path]) -> None:
    from recommender.calibration import parse

    parse(content, "gpu_check")  # the file must read back; a ValueError here is a bug in this module
    text = json.dumps(content, indent=2) + "\n"
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"calibration written to {path}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from recommender.calibration import SHIPPED, user_cache_path

    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                   help="cuda (default); cpu: a dry run of every code path on the CPU, no calibration written")
    p.add_argument("--rows", type=int, default=50_000, help="rows of the generated dataset (default 50,000)")
    p.add_argument("--checks", nargs="+", choices=list(CHECKS), default=list(CHECKS), metavar="CHECK",
                   help=f"a subset of: {', '.join(CHECKS)}")
    p.add_argument("--total-seconds", type=float, default=TOTAL_SECONDS,
                   help=f"no check starts after this many seconds (default {TOTAL_SECONDS})")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--calibration", type=Path, default=user_cache_path(),
                   help="where the recommender's calibration is written (default: the user cache)")
    p.add_argument("--ship", action="store_true", help=f"also write the packaged reference {SHIPPED}")
    p.add_argument("--child", choices=list(CHECKS), help=argparse.SUPPRESS)
    p.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--cap", type=float, default=60.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rows < 1_000:
        p.error(f"--rows must be at least 1000 (the CPU slices and warm-up fits use 1,000), got {args.rows}")
    if args.total_seconds <= 0:
        p.error(f"--total-seconds must be above 0, got {args.total_seconds}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        args.child_out.write_text(json.dumps(child(args.child, args.device, args.rows, args.cap)))
        return 0
    profile = discover()
    if args.device == "cuda" and not profile.gpus:
        print(no_gpu_message(), file=sys.stderr)
        return EXIT_NO_GPU
    gpu = profile.gpus[0].name if profile.gpus else "no GPU (CPU dry run)"
    print(f"gpu-check on {args.device}: {gpu}; {len(args.checks)} checks, {args.rows:,} x 50 rows")
    results = run_all(args.checks, args.device, args.rows, profile, args.total_seconds)
    date = datetime.date.today().isoformat()
    failed = [r["check"] for r in results if r["status"] == "failed"]
    report = {"date": date, "device": args.device, "gpu": gpu, "gpus": [g.__dict__ for g in profile.gpus],
              "rows": args.rows, "features": 50, "checks": results, "failed": failed}
    stem = "gpu_check" if args.device == "cuda" else "gpu_check_cpu"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    md = f"# gpu-check on {gpu} ({args.device}), {date}\n\n{table(results)}\n"
    (args.out_dir / f"{stem}.md").write_text(md)
    print(table(results))
    print(f"written: {args.out_dir / stem}.json and .md")
    content = calibration(results, gpu, date) if args.device == "cuda" else None
    if content is not None:
        from recommender.calibration import SHIPPED

        paths = [args.calibration, args.out_dir / "gpu_calibration.json"] + ([SHIPPED] if args.ship else [])
        write_calibration(content, paths)
    if failed:
        print(f"gpu-check FAILED: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
