"""The registry of framework adapters: one entry per framework, clashes rejected."""

from __future__ import annotations

from search_spaces._base import FrameworkAdapter

_ADAPTERS: dict[str, type[FrameworkAdapter]] = {}
_ALIASES: dict[str, str] = {}


def register(cls: type[FrameworkAdapter], *, aliases: tuple[str, ...] = ()) -> type[FrameworkAdapter]:
    """Add an adapter class under ``cls.name`` (and optional aliases)."""
    for key in (cls.name, *aliases):
        owner = _ADAPTERS.get(key) or (_ADAPTERS.get(_ALIASES[key]) if key in _ALIASES else None)
        if owner is not None and owner is not cls:
            raise ValueError(f"framework name {key!r} is already registered by {owner.__name__}")
    _ADAPTERS[cls.name] = cls
    for alias in aliases:
        _ALIASES[alias] = cls.name
    return cls


def unregister(name: str) -> type[FrameworkAdapter]:
    """Remove the adapter registered as ``name`` (or an alias of it) with its aliases; return its class."""
    key = canonical_name(name)
    cls = _ADAPTERS.pop(key)
    for alias in [a for a, owner in _ALIASES.items() if owner == key]:
        del _ALIASES[alias]
    return cls


def canonical_name(name: str) -> str:
    """The registered name for ``name`` or one of its aliases; ValueError if unknown."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _ADAPTERS:
        raise ValueError(
            f"unknown framework {name!r}; known frameworks: {', '.join(sorted(_ADAPTERS))}"
        )
    return key


def get_adapter(name: str) -> FrameworkAdapter:
    return _ADAPTERS[canonical_name(name)]()


def adapter_names() -> list[str]:
    return list(_ADAPTERS)


def all_adapters() -> list[FrameworkAdapter]:
    return [cls() for cls in _ADAPTERS.values()]
