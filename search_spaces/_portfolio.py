"""The warm-start portfolio: configurations mined offline to be strong across many datasets.

``portfolio.json`` is plain data (written by ``python -m benchmarks.portfolio``), read once with
``importlib.resources``. The mined configurations were drawn for all-numeric data, so before use
each is fitted to the spec at hand: parameters this spec's search space would not suggest are
dropped, ones it would suggest but the mined entry lacks (say XGBoost's ``categorical`` when the
data has categorical columns) come from the framework's default configuration of the same family,
and values are brought inside the current search space so the configurations can be enqueued.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from search_spaces._base import Config, FrameworkAdapter
from search_spaces._registry import adapter_names, canonical_name, get_adapter
from search_spaces._spec import FeatureSpec

FORMAT_VERSION = 1


def task_group(spec: FeatureSpec) -> str:
    """The portfolio group for a spec: binary and multiclass share the classification group."""
    return "regression" if spec.task == "regression" else "classification"


@functools.lru_cache(maxsize=1)
def load_portfolio() -> dict[str, Any]:
    """The parsed ``portfolio.json`` shipped with the package (cached; nothing executed)."""
    text = resources.files("search_spaces").joinpath("portfolio.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"portfolio.json has format_version={version!r}; this code reads {FORMAT_VERSION}")
    return doc


@dataclass(frozen=True)
class _Param:
    """One parameter of a search space as the probe saw it: choices, or a numeric range."""

    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False

    def fit(self, value: Any) -> Any:
        """``value`` inside this parameter's space, or ``None`` when it cannot be."""
        if self.choices is not None:
            return value if value in self.choices else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        value = min(max(value, self.low), self.high)
        return int(round(value)) if self.integer else float(value)


class _Probe:
    """A stand-in trial that records which parameters a search space asks for, for one family."""

    def __init__(self, family_key: str, family: str) -> None:
        self._family_key, self._family = family_key, family
        self.params: dict[str, _Param] = {}

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        if name == self._family_key:
            return self._family
        self.params[name] = _Param(choices=tuple(choices))
        return list(choices)[0]

    def suggest_float(self, name: str, low: float, high: float, *, step: Any = None, log: bool = False) -> float:
        self.params[name] = _Param(low=low, high=high)
        return low

    def suggest_int(self, name: str, low: int, high: int, *, step: Any = None, log: bool = False) -> int:
        self.params[name] = _Param(low=low, high=high, integer=True)
        return low


def _space(adapter: FrameworkAdapter, spec: FeatureSpec, family: str) -> dict[str, _Param]:
    """The parameters ``adapter`` suggests for ``family`` on ``spec``, by their short names."""
    probe = _Probe(f"{adapter.name}.family", family)
    adapter.suggest(probe, spec)
    prefix = f"{adapter.name}.{family}."
    return {k[len(prefix):]: p for k, p in probe.params.items() if k.startswith(prefix)}


def complete_config(adapter: FrameworkAdapter, spec: FeatureSpec, family: str, params: dict[str, Any]) -> Config | None:
    """``params`` fitted to this spec's search space; ``None`` when a parameter cannot be filled."""
    space = _space(adapter, spec, family)
    defaults = next((c.params for c in adapter.default_configs(spec) if c.family == family), {})
    out: dict[str, Any] = {}
    for name, param in space.items():
        value = param.fit(params[name]) if name in params else None
        if value is None and name in defaults:
            value = param.fit(defaults[name])
        if value is None and param.choices is not None:
            value = param.choices[0]
        if value is None:
            return None
        out[name] = value
    return Config(adapter.name, family, out)


def portfolio_configs(spec: FeatureSpec, frameworks: Iterable[str]) -> list[Config]:
    """The portfolio's configurations for ``spec``, in portfolio order, for the given frameworks.

    Entries of frameworks not asked for or not registered, of families the adapter would not
    search on this spec, and of tasks the adapter does not support are skipped.
    """
    wanted = set()
    for name in frameworks:
        try:
            wanted.add(canonical_name(name))
        except ValueError:
            continue
    registered = set(adapter_names())
    out: list[Config] = []
    for entry in load_portfolio()["groups"].get(task_group(spec), []):
        name = entry["framework"]
        if name not in wanted or name not in registered:
            continue
        adapter = get_adapter(name)
        if not adapter.supports(spec.task) or entry["family"] not in adapter.families(spec):
            continue
        config = complete_config(adapter, spec, entry["family"], dict(entry["params"]))
        if config is not None and config not in out:
            out.append(config)
    return out
