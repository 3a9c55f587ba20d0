"""The plugin module named by this distribution's ``lemur`` entry point."""

from lemur.core import hookimpl
from lemur.core.components import ComponentSpec


@hookimpl
def lemur_data_sources():
    return [ComponentSpec("example-numbers", "lemur_example_plugin.components:NumbersSource", "numbered documents")]


@hookimpl
def lemur_benchmarks():
    return [ComponentSpec("example-addition", "lemur_example_plugin.components:AdditionBenchmark", "five sums")]


@hookimpl
def lemur_envs():
    return [
        ComponentSpec(
            "example/GuessNumber-v0",
            "lemur_example_plugin.components:GuessNumberEnv",
            "guess a hidden number",
            options={"max_episode_steps": 10},
        )
    ]


@hookimpl
def lemur_agents():
    return [ComponentSpec("example-bisect", "lemur_example_plugin.components:BisectAgent", "bisects higher/lower")]
