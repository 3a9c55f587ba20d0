import pytest

from lemur.core.components import ComponentSpec, Kind, Provided
from lemur.core.errors import DuplicateComponentError, MissingDependencyError, PluginError, UnknownComponentError
from lemur.core.registry import Registry


def provided(name, target="json:dumps", distribution="dist-a", plugin="plug-a"):
    return Provided(Kind.BENCHMARK, ComponentSpec(name, target), distribution, plugin)


def test_duplicate_name_names_both_distributions():
    registry = Registry(Kind.BENCHMARK)
    registry.add(provided("gsm8k", distribution="lemur-eval", plugin="lemur_eval"))
    with pytest.raises(DuplicateComponentError) as error:
        registry.add(provided("gsm8k", distribution="acme-evals", plugin="acme"))
    message = str(error.value)
    assert "benchmark 'gsm8k' is provided twice" in message
    assert "'lemur-eval'" in message and "'acme-evals'" in message
    assert error.value.exit_code == 2


def test_unknown_name_suggests_close_names():
    registry = Registry(Kind.BENCHMARK)
    for name in ["gsm8k", "mmlu", "humaneval"]:
        registry.add(provided(name))
    with pytest.raises(
        UnknownComponentError, match=r"unknown benchmark 'gsm8': did you mean 'gsm8k'\? available: gsm8k"
    ):
        registry["gsm8"]


def test_unknown_name_without_close_names_lists_the_available_ones():
    registry = Registry(Kind.BENCHMARK)
    for name in ["mmlu", "gsm8k"]:
        registry.add(provided(name))
    with pytest.raises(UnknownComponentError) as error:
        registry["nosuch"]
    assert str(error.value) == "unknown benchmark 'nosuch'; available: gsm8k, mmlu"


def test_load_imports_target_lazily():
    registry = Registry(Kind.BENCHMARK)
    registry.add(provided("dumps", target="json:dumps"))
    import json

    assert registry.load("dumps") is json.dumps


def test_spec_target_must_name_module_and_attribute():
    with pytest.raises(PluginError, match="must look like 'package.module:attribute'"):
        ComponentSpec("x", "json.dumps")


def test_missing_dependency_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "needs_missing.py").write_text("import surely_not_installed_pkg\nX = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = ComponentSpec("docker", "needs_missing:X", extra="lemur-envs[docker]")
    with pytest.raises(MissingDependencyError) as error:
        spec.load()
    assert str(error.value) == (
        "component 'docker' needs the package 'surely_not_installed_pkg', which is not installed: "
        "pip install 'lemur-envs[docker]'"
    )


def test_missing_module_or_attribute_is_a_plugin_error():
    with pytest.raises(PluginError, match="module 'no_such_module_xyz' does not exist"):
        ComponentSpec("a", "no_such_module_xyz:f").load()
    with pytest.raises(PluginError, match="'json' has no attribute 'nope'"):
        ComponentSpec("b", "json:nope").load()
