"""A recommendation's explanation: the ranking in one sentence of facts and numbers, and what a GPU
would change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from recommender.hardware import HardwareProfile
from recommender.profile import DatasetProfile
from search_spaces import adapter_names, get_adapter

if TYPE_CHECKING:
    from recommender.ranking import Candidate


def is_network(framework: str) -> bool:
    return framework in adapter_names() and get_adapter(framework).network


def _facts(profile: DatasetProfile) -> str:
    kinds = profile.kind_counts()
    n_cat = kinds.get("categorical", 0) + kinds.get("boolean", 0)
    parts = [f"{profile.n_rows:,} rows", f"{profile.n_features} features"]
    if n_cat:
        parts.append(f"{n_cat} categorical")
    if profile.missing_ratio >= 0.01:
        parts.append(f"{profile.missing_ratio:.0%} missing")
    if profile.task != "regression":
        parts.append(f"{profile.n_classes} classes")
    return ", ".join(parts)


def _speed(c: Candidate, hardware: HardwareProfile) -> str:
    where = "the GPU" if c.device == "cuda" else f"{hardware.physical_cores} CPU core(s)"
    return f"one {c.display_name} trial here takes ~{c.seconds_per_trial:.2g} s on {where}"


def explain(candidates: Sequence[Candidate], profile: DatasetProfile, hardware: HardwareProfile) -> list[str]:
    """The ranking in one sentence of facts and numbers: why the first choice, at what cost."""
    if not candidates:
        return []
    top = candidates[0]
    line = f"{_facts(profile)}: {top.display_name} first"
    if len(candidates) > 1:
        second = candidates[1]
        if round(top.score - second.score, 3) == 0 and 0 < top.seconds_per_trial < second.seconds_per_trial:
            # a tie is broken by cost: say so rather than print a margin of zero
            line += (f", level with {second.display_name} and "
                     f"~{second.seconds_per_trial / top.seconds_per_trial:.1f}x faster per trial")
        elif top.expected_relative is not None and second.expected_relative is not None:
            line += (f" (expected {top.expected_relative:.2f} of the best candidate on similar datasets, "
                     f"{second.display_name} {second.expected_relative:.2f})")
        else:
            line += f", then {second.display_name}"
    networks = [c for c in candidates[2:] if is_network(c.framework) and c.expected_relative is not None]
    if networks and not is_network(top.framework) and not is_network(candidates[1].framework):
        net = networks[0]
        line += f"; a {net.display_name} network {net.expected_relative:.2f}"
    lines = [line + f"; {_speed(top, hardware)}"]
    if any(c.expected_relative is not None for c in candidates):
        lines.append("order: the rules', each network placed by its evidence; 'expected' is a framework's median score "
                     "relative to the best candidate on the meta-dataset's most similar datasets")
    return lines


def gpu_counterfactual(now: Sequence[Candidate], with_gpu: Sequence[Candidate]) -> list[str]:
    """What a GPU would change, where it changes the ranking or makes a candidate much faster."""
    order_now = [c.framework for c in now]
    out = []
    for rank, c in enumerate(with_gpu, 1):
        if c.device != "cuda":
            continue
        before = next((b for b in now if b.framework == c.framework), None)
        moved = before is None or order_now.index(c.framework) + 1 != rank
        faster = before is not None and before.seconds_per_trial >= 2 * c.seconds_per_trial
        if moved or faster:
            where = "first" if rank == 1 else f"choice #{rank}"
            out.append(
                f"with a GPU, {c.display_name} would be {where} at ~{c.seconds_per_trial:.2g} s per trial"
                + ("" if before is None else f" (now ~{before.seconds_per_trial:.2g} s on the CPU)")
            )
    return out[:2]
