"""The plugin manager: loading plugins from entry points and collecting their components.

``get_plugin_manager()`` returns the process-wide manager (the only global state in Lemur);
tests build their own with :func:`build_plugin_manager`. Plugins are modules named by entry
points of group ``lemur``; each is registered under its entry-point name and remembered with
the distribution that installed it, so every component can say where it came from.

A plugin that fails to import is recorded in :attr:`LemurPluginManager.failures` (``lemur
plugins`` shows it with its error) and never silently dropped; the others still load.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Callable, Iterable

import pluggy

from lemur.core import hookspecs
from lemur.core.components import ComponentSpec, Kind, Provided
from lemur.core.errors import PluginError
from lemur.core.registry import Registry

ENTRY_POINT_GROUP = "lemur"
PROJECT_NAME = "lemur"
DIRECT = "(registered directly)"


@dataclasses.dataclass(frozen=True)
class PluginFailure:
    """A plugin entry point that could not be loaded."""

    plugin: str  #: the entry-point name
    distribution: str  #: the distribution that declared it
    error: str  #: one line: exception type and message


class LemurPluginManager(pluggy.PluginManager):
    """A pluggy manager for project ``lemur`` that knows which distribution gave each plugin."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.distributions: dict[str, str] = {}
        self.failures: list[PluginFailure] = []
        self._components: dict[Kind, Registry] | None = None

    def register_plugin(self, plugin: object, name: str, distribution: str = DIRECT) -> None:
        """Register ``plugin`` under ``name`` as provided by ``distribution``.

        Raises:
            PluginError: The name is taken, or an implementation does not match its hookspec.
        """
        if self.has_plugin(name):
            raise PluginError(
                f"plugin name {name!r} from distribution '{distribution}' is already used by "
                f"distribution '{self.distributions.get(name, DIRECT)}'"
            )
        try:
            self.register(plugin, name=name)
        except pluggy.PluginValidationError as error:
            raise PluginError(f"plugin {name!r} from distribution '{distribution}': {error}") from error
        self.distributions[name] = distribution
        self._components = None

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP, disabled: Iterable[str] = ()) -> int:
        """Load and register every plugin of ``group`` not named in ``disabled``.

        Like pluggy's ``load_setuptools_entrypoints``, but one that fails to import is recorded
        in :attr:`failures` instead of stopping the others.

        Returns:
            How many plugins were registered.
        """
        disabled = set(disabled)
        loaded = 0
        for entry_point in sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name):
            distribution = entry_point.dist.name if entry_point.dist is not None else "?"
            if entry_point.name in disabled:
                continue
            try:
                plugin = entry_point.load()
                self.register_plugin(plugin, entry_point.name, distribution)
            except Exception as error:  # noqa: BLE001 - any import error is reported, not raised
                message = str(error).splitlines()[0] if str(error) else ""
                self.failures.append(
                    PluginFailure(entry_point.name, distribution, f"{type(error).__name__}: {message}")
                )
                continue
            loaded += 1
        return loaded

    def components(self, kind: Kind) -> Registry:
        """The registry of every component of ``kind`` from every registered plugin.

        Raises:
            DuplicateComponentError: Two plugins provide the same name for this kind.
            PluginError: A hook returned something other than a list of ``ComponentSpec``.
        """
        if self._components is None:
            self._components = {}
        if kind not in self._components:
            self._components[kind] = self._collect(kind)
        return self._components[kind]

    def _collect(self, kind: Kind) -> Registry:
        registry = Registry(kind)
        hook = getattr(self.hook, kind.hook_name)
        # Call each implementation on its own (in registration order) so every spec keeps its provider.
        for impl in hook.get_hookimpls():
            specs = impl.function() or []
            for spec in specs:
                if not isinstance(spec, ComponentSpec):
                    raise PluginError(
                        f"plugin {impl.plugin_name!r}: {kind.hook_name}() must return ComponentSpec objects, "
                        f"got {type(spec).__name__}"
                    )
                distribution = self.distributions.get(impl.plugin_name, DIRECT)
                registry.add(Provided(kind, spec, distribution, impl.plugin_name))
        return registry


def build_plugin_manager(load_entry_points: bool = True, disabled: Iterable[str] = ()) -> LemurPluginManager:
    """Build a fresh plugin manager, loading the ``lemur`` entry points unless told not to."""
    manager = LemurPluginManager()
    if load_entry_points:
        manager.load_entry_points(disabled=disabled)
    return manager


_manager: LemurPluginManager | None = None
_building = False
_when_ready: list[Callable[[LemurPluginManager], None]] = []


def get_plugin_manager() -> LemurPluginManager:
    """The process-wide plugin manager, built on first use from the installed entry points.

    Plugins named in the settings' ``disable_plugins`` are not loaded.
    """
    global _manager, _building
    if _manager is None:
        from lemur.core.settings import get_settings

        _building = True
        try:
            manager = build_plugin_manager(disabled=get_settings().disable_plugins)
        finally:
            _building = False
        _manager = manager
        while _when_ready:
            _when_ready.pop(0)(manager)
    return _manager


def when_ready(callback: Callable[[LemurPluginManager], None]) -> None:
    """Call ``callback(manager)`` with the process-wide manager once every plugin is loaded.

    A package whose import must act on all plugins (``lemur.envs`` registers every plugin's
    environments into gymnasium) calls this at import time. If the import happens while the
    manager is loading plugins, the call waits until loading has finished; otherwise it runs
    now, building the manager if needed.
    """
    if _building:
        _when_ready.append(callback)
    else:
        callback(get_plugin_manager())


def set_plugin_manager(manager: LemurPluginManager | None) -> None:
    """Replace the process-wide plugin manager (``None`` rebuilds it on next use); for tests and embedding."""
    global _manager
    _manager = manager
    if manager is not None:
        while _when_ready:
            _when_ready.pop(0)(manager)


def components(kind: Kind) -> Registry:
    """The registry of ``kind`` from the process-wide plugin manager."""
    return get_plugin_manager().components(kind)


def load_component(kind: Kind, name: str) -> object:
    """Import and return the implementation of the ``kind`` component called ``name``."""
    return components(kind).load(name)
