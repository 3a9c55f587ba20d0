import importlib.metadata
import types

import pytest

from lemur.core import hookimpl
from lemur.core.components import ComponentSpec, Kind
from lemur.core.errors import DuplicateComponentError, PluginError
from lemur.core.hookspecs import hookspec
from lemur.core.plugins import build_plugin_manager


def make_plugin(name, **hooks):
    module = types.ModuleType(name)
    for hook_name, specs in hooks.items():

        def impl(specs=specs):
            return specs

        impl.__name__ = hook_name
        setattr(module, hook_name, hookimpl(impl))
    return module


def test_components_keep_their_provider(plugin_manager):
    plugin_manager.register_plugin(
        make_plugin("a", lemur_benchmarks=[ComponentSpec("b1", "json:dumps")]), "plugin_a", "dist-a"
    )
    plugin_manager.register_plugin(
        make_plugin("b", lemur_benchmarks=[ComponentSpec("b2", "json:loads")]), "plugin_b", "dist-b"
    )
    registry = plugin_manager.components(Kind.BENCHMARK)
    assert [(p.spec.name, p.distribution, p.plugin) for p in registry] == [
        ("b1", "dist-a", "plugin_a"),
        ("b2", "dist-b", "plugin_b"),
    ]
    assert len(plugin_manager.components(Kind.ENV)) == 0


def test_same_name_from_two_plugins_is_an_error(plugin_manager):
    spec = ComponentSpec("local", "json:dumps")
    plugin_manager.register_plugin(make_plugin("a", lemur_sandboxes=[spec]), "plugin_a", "lemur-envs")
    plugin_manager.register_plugin(make_plugin("b", lemur_sandboxes=[spec]), "plugin_b", "acme-sandbox")
    with pytest.raises(
        DuplicateComponentError, match="sandbox 'local' is provided twice.*'lemur-envs'.*'acme-sandbox'"
    ):
        plugin_manager.components(Kind.SANDBOX)


def test_same_name_in_different_kinds_is_fine(plugin_manager):
    spec = ComponentSpec("x", "json:dumps")
    plugin_manager.register_plugin(make_plugin("a", lemur_agents=[spec], lemur_benchmarks=[spec]), "p", "d")
    assert plugin_manager.components(Kind.AGENT).names() == ["x"]
    assert plugin_manager.components(Kind.BENCHMARK).names() == ["x"]


def test_hook_must_return_component_specs(plugin_manager):
    plugin_manager.register_plugin(make_plugin("a", lemur_agents=["not a spec"]), "bad", "dist-bad")
    with pytest.raises(PluginError, match="lemur_agents\\(\\) must return ComponentSpec objects, got str"):
        plugin_manager.components(Kind.AGENT)


def test_unknown_hook_argument_is_rejected_at_registration(plugin_manager):
    module = types.ModuleType("bad")

    @hookimpl
    def lemur_benchmarks(unexpected):
        return []

    module.lemur_benchmarks = lemur_benchmarks
    with pytest.raises(PluginError, match="plugin 'bad' from distribution 'd'"):
        plugin_manager.register_plugin(module, "bad", "d")


def test_every_kind_has_a_documented_hookspec():
    import lemur.core.hookspecs as specs

    for kind in Kind:
        function = getattr(specs, kind.hook_name)
        assert function.__doc__ and "Called once per plugin manager" in function.__doc__
        assert getattr(function, "lemur_spec", None) is not None
    assert isinstance(hookspec, object)


class FakeEntryPoint:
    def __init__(self, name, target, dist_name):
        self.name, self.target = name, target
        self.dist = types.SimpleNamespace(name=dist_name)

    def load(self):
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


def test_entry_points_load_with_provenance_and_failures_are_recorded(monkeypatch):
    good = make_plugin("good", lemur_data_sources=[ComponentSpec("src", "json:loads")])
    fake = [
        FakeEntryPoint("good", good, "acme-data"),
        FakeEntryPoint("broken", ImportError("No module named 'torchh'"), "acme-broken"),
        FakeEntryPoint("skipped", good, "acme-skipped"),
    ]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: fake if group == "lemur" else [])
    manager = build_plugin_manager(disabled=["skipped"])
    assert manager.distributions == {"good": "acme-data"}
    assert [(f.plugin, f.distribution, f.error) for f in manager.failures] == [
        ("broken", "acme-broken", "ImportError: No module named 'torchh'")
    ]
    assert [p.distribution for p in manager.components(Kind.DATA_SOURCE)] == ["acme-data"]


def test_two_entry_points_with_one_name_is_recorded_not_fatal(monkeypatch):
    one, two = make_plugin("one"), make_plugin("two")
    fake = [FakeEntryPoint("same", one, "dist-one"), FakeEntryPoint("same", two, "dist-two")]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: fake)
    manager = build_plugin_manager()
    assert manager.distributions == {"same": "dist-one"}
    assert "already used by distribution 'dist-one'" in manager.failures[0].error
