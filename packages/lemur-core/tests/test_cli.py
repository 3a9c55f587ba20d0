import json


def test_version_lists_installed_lemur_packages(run_lemur):
    result = run_lemur("--version")
    assert result.returncode == 0, result.stderr
    for package in ["lemur-core 0.1.0", "lemur-data 0.1.0", "lemur-envs 0.1.0", "lemur-eval 0.1.0"]:
        assert package in result.stdout


def test_help_lists_plugin_command_groups(run_lemur):
    result = run_lemur("--help")
    assert result.returncode == 0, result.stderr
    for command in ["plugins", "data", "envs", "eval"]:
        assert f"  {command} " in result.stdout


def test_plugins_lists_built_in_components_with_distribution(run_lemur):
    result = run_lemur("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["components"]
    assert any(
        {"kind": "data-source", "name": "jsonl", "distribution": "lemur-data"}.items() <= r.items() for r in rows
    )


def test_bad_settings_file_is_one_line_and_status_2(run_lemur, tmp_path):
    config = tmp_path / "lemur.yaml"
    config.write_text("disable_plugin: [x]\n")
    result = run_lemur("--config", str(config), "plugins")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {config}: unknown key 'disable_plugin'; allowed keys: cache_dir, data_dir, disable_plugins\n"
    )


def test_settings_can_disable_a_plugin(run_lemur, tmp_path):
    config = tmp_path / "lemur.yaml"
    config.write_text("disable_plugins: [lemur_data]\n")
    result = run_lemur("plugins", "--json", env={"LEMUR_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert all(row["distribution"] != "lemur-data" for row in json.loads(result.stdout)["components"])


def test_unknown_component_is_status_2(run_lemur):
    result = run_lemur("data", "head", "jsonnl")
    assert result.returncode == 2
    prefix = "error: unknown data-source 'jsonnl': did you mean 'jsonl'? available: "
    assert result.stderr.startswith(prefix) and result.stderr.count("\n") == 1
    assert "jsonl" in result.stderr[len(prefix) :].strip().split(", ")
