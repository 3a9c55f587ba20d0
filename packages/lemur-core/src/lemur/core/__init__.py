"""Lemur core: the plugin manager, hookspecs, component registries, config loading and the CLI root.

Importing this package is cheap: it pulls in pluggy only. The public names below are imported
on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

#: Marker for hook implementations in Lemur plugins: ``@lemur.core.hookimpl``.
hookimpl = pluggy.HookimplMarker("lemur")

if TYPE_CHECKING:
    from lemur.core.components import ComponentSpec, Kind
    from lemur.core.plugins import components, get_plugin_manager, load_component

_LAZY = {
    "ComponentSpec": "lemur.core.components",
    "Kind": "lemur.core.components",
    "components": "lemur.core.plugins",
    "get_plugin_manager": "lemur.core.plugins",
    "load_component": "lemur.core.plugins",
}

__all__ = ["ComponentSpec", "Kind", "components", "get_plugin_manager", "hookimpl", "load_component"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lemur.core' has no attribute {name!r}")
