"""Cutting generated text at stop strings, shared by every backend that must do it itself."""

from __future__ import annotations

from collections.abc import Sequence


def first_stop(text: str, stops: Sequence[str]) -> int | None:
    """The index in ``text`` where the earliest of ``stops`` begins, or None when none occurs (empty stops ignored)."""
    positions = [text.find(stop) for stop in stops if stop]
    positions = [p for p in positions if p >= 0]
    return min(positions) if positions else None
