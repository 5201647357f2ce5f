"""The generic plugin registry: the one place that knows what is pluggable.

Entries live in nested dicts keyed by kind, then name: providers under ``llm_provider``,
tools under ``tool``, and any future kind (vector stores, databases...) the same way::

    @register("vector_store", "pinecone", dimension=1536)
    class PineconeStore: ...

An entry's target may be given as ``"package.module:attribute"`` and is then imported on
first use, which keeps vendor SDKs out of ``import aether``. Providers from installed
packages are also found through the ``aether.providers`` entry-point group.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, TypeVar

from aether.errors import ConfigurationError

__all__ = [
    "PROVIDER_ENTRY_POINT_GROUP",
    "PROVIDER_KIND",
    "Registry",
    "RegistryEntry",
    "register",
    "registry",
    "same_definition",
]

logger = logging.getLogger("aether.registry")

PROVIDER_KIND = "llm_provider"
PROVIDER_ENTRY_POINT_GROUP = "aether.providers"

_T = TypeVar("_T")


def _describe(target: Any) -> str:
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{qualname}" if module else qualname


def same_definition(existing: Any, new: Any) -> bool:
    """Whether ``new`` is ``existing`` defined again: the same module and qualified name.

    A notebook cell run twice, or ``importlib.reload``, makes a new function or class from
    the same definition; registering it again replaces the old one instead of failing.
    """
    if existing is new:
        return True
    if isinstance(existing, str) or isinstance(new, str):
        return bool(existing == new)
    qualname = getattr(new, "__qualname__", None)
    module = getattr(new, "__module__", None)
    return (
        isinstance(qualname, str)
        and isinstance(module, str)
        and getattr(existing, "__qualname__", None) == qualname
        and getattr(existing, "__module__", None) == module
    )


@dataclass(slots=True)
class RegistryEntry:
    """One registered plugin: its kind, name, target and metadata."""

    kind: str
    name: str
    target: Any
    metadata: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        """Return the target, importing it first if it was registered by path."""
        if isinstance(self.target, str):
            module_name, _, attribute = self.target.partition(":")
            module = importlib.import_module(module_name)
            self.target = getattr(module, attribute) if attribute else module
        return self.target

    @property
    def description(self) -> str:
        """The target's dotted name, for messages."""
        return _describe(self.target)


class Registry:
    """Plugins by kind and name. Aether uses the module-level `registry` instance."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, RegistryEntry]] = {}
        self._entry_points_loaded: set[str] = set()

    def add(
        self, kind: str, name: str, target: Any, *, replace: bool = False, **metadata: Any
    ) -> RegistryEntry:
        """Register ``target`` as ``name`` of ``kind``.

        Registering the same definition again (`same_definition`: a re-run notebook cell,
        ``importlib.reload``) replaces the entry.

        Raises:
            ConfigurationError: If ``name`` is taken for this kind by another definition
                and ``replace`` is false; the message names both targets.
        """
        entries = self._entries.setdefault(kind, {})
        existing = entries.get(name)
        if existing is not None and not replace and not same_definition(existing.target, target):
            raise ConfigurationError(
                f"{kind} {name!r} is already registered by {existing.description}; "
                f"cannot register {_describe(target)} under the same name. Pick another "
                f"name, or pass replace=True to override it on purpose."
            )
        entry = RegistryEntry(kind, name, target, dict(metadata))
        entries[name] = entry
        return entry

    def remove(self, kind: str, name: str) -> None:
        """Unregister ``name`` of ``kind``; removing a missing entry does nothing."""
        self._entries.get(kind, {}).pop(name, None)

    def get(self, kind: str, name: str) -> RegistryEntry:
        """Return the entry for ``name`` of ``kind``.

        Raises:
            ConfigurationError: If there is none; the message lists the known names.
        """
        entry = self._entries.get(kind, {}).get(name)
        if entry is None and kind == PROVIDER_KIND:
            self._load_entry_points(kind)
            entry = self._entries.get(kind, {}).get(name)
        if entry is None:
            known = ", ".join(sorted(self.names(kind))) or "none"
            raise ConfigurationError(f"unknown {kind} {name!r}; known: {known}")
        return entry

    def find(self, kind: str, name: str) -> RegistryEntry | None:
        """Return the entry for ``name`` of ``kind``, or ``None``."""
        return self._entries.get(kind, {}).get(name)

    def names(self, kind: str) -> list[str]:
        """The registered names of ``kind``, in registration order."""
        if kind == PROVIDER_KIND:
            self._load_entry_points(kind)
        return list(self._entries.get(kind, {}))

    def entries(self, kind: str) -> list[RegistryEntry]:
        """The registered entries of ``kind``, in registration order."""
        if kind == PROVIDER_KIND:
            self._load_entry_points(kind)
        return list(self._entries.get(kind, {}).values())

    def kinds(self) -> list[str]:
        """Every kind that has at least one entry."""
        return [kind for kind, entries in self._entries.items() if entries]

    @contextmanager
    def scoped(self) -> Iterator[Registry]:
        """Undo every registration made inside the ``with`` block (handy in tests)."""
        saved = {kind: dict(entries) for kind, entries in self._entries.items()}
        try:
            yield self
        finally:
            self._entries = saved

    def _load_entry_points(self, kind: str) -> None:
        if kind in self._entry_points_loaded:
            return
        self._entry_points_loaded.add(kind)
        for point in entry_points(group=PROVIDER_ENTRY_POINT_GROUP):
            if self.find(kind, point.name) is not None:
                continue
            try:
                target = point.load()
            except Exception:
                logger.exception("could not load provider entry point %r", point.value)
                continue
            metadata = dict(getattr(target, "aether_provider", {}) or {})
            self.add(kind, point.name, target, **metadata)


registry = Registry()


def register(kind: str, name: str, **metadata: Any) -> Callable[[_T], _T]:
    """Decorator: register the decorated class or function as ``name`` of ``kind``.

    Raises:
        ConfigurationError: If ``name`` is already taken for ``kind``.
    """

    def decorator(target: _T) -> _T:
        registry.add(kind, name, target, **metadata)
        return target

    return decorator
