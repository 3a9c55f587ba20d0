"""lemur-envs' plugin: the ``lemur envs`` commands (environments and sandboxes arrive with their issues)."""

from __future__ import annotations

import click

from lemur.core import hookimpl
from lemur.core.components import Kind


@click.group("envs")
def envs_group() -> None:
    """Environments (gymnasium) and sandboxes."""


@envs_group.command("list")
def list_envs() -> None:
    """List the registered environments with their episode limits."""
    from lemur.core.plugins import components

    registry = components(Kind.ENV)
    if not len(registry):
        click.echo("no environments registered")
    for provided in registry:
        steps = provided.spec.options.get("max_episode_steps")
        click.echo(f"{provided.spec.name:<36} max_episode_steps={steps}  ({provided.distribution})")


@hookimpl
def lemur_cli_commands(cli: click.Group) -> None:
    cli.add_command(envs_group)
