"""A third-party plugin distribution, installed for real, extends Lemur through entry points only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent / "example_plugin"


def pip_install_target(source: Path, target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            target,
            source,
        ],
        check=True,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    """The example plugin installed into its own site directory (the venv stays untouched)."""
    site = tmp_path_factory.mktemp("example-site")
    pip_install_target(EXAMPLE, site)
    return site


def with_site(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def run_python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env={**os.environ, **env}
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_components_appear_in_lemur_plugins(run_lemur, example_site):
    result = run_lemur("plugins", "--json", env=with_site(example_site))
    assert result.returncode == 0, result.stderr
    rows = {(row["kind"], row["name"]): row["distribution"] for row in json.loads(result.stdout)["components"]}
    for key in [
        ("data-source", "example-numbers"),
        ("benchmark", "example-addition"),
        ("env", "example/GuessNumber-v0"),
        ("agent", "example-bisect"),
    ]:
        assert rows[key] == "lemur-example-plugin"
    table = run_lemur("plugins", env=with_site(example_site)).stdout
    assert "example                  lemur-example-plugin" in table


def test_data_source_works_through_the_cli(run_lemur, example_site):
    result = run_lemur("data", "head", "example-numbers", "-o", "count=2", env=with_site(example_site))
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()] == ["number 0", "number 1"]


def test_benchmark_and_agent_in_env_work(example_site):
    output = run_python(
        """
        import gymnasium
        from gymnasium.utils.env_checker import check_env
        from lemur.core.components import Kind
        from lemur.core.plugins import load_component

        benchmark = load_component(Kind.BENCHMARK, "example-addition")()
        samples = list(benchmark.samples())
        right = [benchmark.score(s, f"The answer is {s.target}") for s in samples]
        wrong = [benchmark.score(s, "I do not know") for s in samples]
        print(benchmark.aggregate(right)["accuracy"], benchmark.aggregate(wrong)["accuracy"])

        env = gymnasium.make("lemur.envs:example/GuessNumber-v0")
        check_env(env.unwrapped, skip_render_check=True)
        agent = load_component(Kind.AGENT, "example-bisect")()
        observation, info = env.reset(options={"task_id": 37})
        agent.reset(observation, info)
        for turn in range(1, 11):
            observation, reward, terminated, truncated, info = env.step(agent.act(observation, info))
            if terminated or truncated:
                break
        print(turn, reward, info["success"], env.spec.max_episode_steps)
        """,
        with_site(example_site),
    )
    assert output.split("\n")[:2] == ["1.0 0.0", "3 1.0 True 10"]  # 50 (lower), 25 (higher), 37


def test_a_second_distribution_reusing_a_name_is_an_error_naming_both(run_lemur, example_site, tmp_path):
    clash = tmp_path / "clash"
    (clash / "src" / "lemur_clash").mkdir(parents=True)
    (clash / "src" / "lemur_clash" / "__init__.py").write_text(
        "from lemur.core import hookimpl\nfrom lemur.core.components import ComponentSpec\n\n"
        "@hookimpl\ndef lemur_benchmarks():\n    return [ComponentSpec('example-addition', 'json:dumps')]\n"
    )
    (clash / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "lemur-clash"\nversion = "1.0"\n'
        '[project.entry-points.lemur]\nclash = "lemur_clash"\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["src/lemur_clash"]\n'
    )
    site = tmp_path / "site"
    pip_install_target(clash, site)
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(example_site)])}
    result = run_lemur("plugins", env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: benchmark 'example-addition' is provided twice:")
    assert "'lemur-clash'" in result.stderr and "'lemur-example-plugin'" in result.stderr
