"""A generic registry of named components of one kind.

Usage::

    registry = Registry(Kind.BENCHMARK)
    registry.add(Provided(Kind.BENCHMARK, ComponentSpec("gsm8k", "pkg.gsm8k:GSM8K"), "lemur-eval", "lemur_eval"))
    registry["gsm8k"].spec.load()      # imports pkg.gsm8k only now

A name provided twice raises :class:`DuplicateComponentError` naming both distributions
(never a silent override); an unknown name raises :class:`UnknownComponentError` with the
closest matches and the available names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from lemur.core.components import Kind, Provided
from lemur.core.errors import DuplicateComponentError, UnknownComponentError


class Registry:
    """Components of one :class:`Kind`, by name, in registration order."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self._entries: dict[str, Provided] = {}

    def add(self, provided: Provided) -> None:
        """Register a component.

        Raises:
            DuplicateComponentError: Another component of this kind already has the name.
        """
        name = provided.spec.name
        if name in self._entries:
            first = self._entries[name]
            raise DuplicateComponentError(
                f"{self.kind.value} {name!r} is provided twice: by distribution '{first.distribution}' "
                f"(plugin '{first.plugin}') and by distribution '{provided.distribution}' "
                f"(plugin '{provided.plugin}'); "
                "uninstall one, or disable one plugin with `disable_plugins` in the lemur config"
            )
        self._entries[name] = provided

    def __getitem__(self, name: str) -> Provided:
        """Return the component called ``name``.

        Raises:
            UnknownComponentError: No such name; the message suggests close names.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownComponentError(self._unknown_message(name)) from None

    def load(self, name: str) -> Any:
        """Import and return the implementation of the component called ``name``."""
        return self[name].spec.load()

    def _unknown_message(self, name: str) -> str:
        names = sorted(self._entries)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f": did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        available = ", ".join(names) if names else "none (is the package that provides it installed?)"
        return f"unknown {self.kind.value} {name!r}{hint or ';'} available: {available}"

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Provided]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)
