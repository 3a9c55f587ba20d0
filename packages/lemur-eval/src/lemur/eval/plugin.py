"""lemur-eval's plugin: the ``lemur eval`` commands (backends and benchmarks arrive with their issues)."""

from __future__ import annotations

import click

from lemur.core import hookimpl


@click.group("eval")
def eval_group() -> None:
    """Evaluate models on text, code and agent benchmarks."""


@eval_group.command("benchmarks")
def list_benchmarks() -> None:
    """List the registered benchmarks with their category, metric and version."""
    from lemur.core.components import Kind
    from lemur.core.plugins import components

    registry = components(Kind.BENCHMARK)
    if not len(registry):
        click.echo("no benchmarks registered")
    for provided in registry:
        spec = provided.spec.load().spec
        setting = ", ".join(f"{k}={v}" for k, v in spec.setting.items())
        click.echo(f"{spec.name:<20} {spec.category:<6} {spec.metric:<12} v{spec.version:<6} {setting}")


@hookimpl
def lemur_cli_commands(cli: click.Group) -> None:
    cli.add_command(eval_group)
