"""lemur-envs' plugin: the ``lemur envs`` commands (environments and sandboxes arrive with their issues)."""

from __future__ import annotations

import click

from lemur.core import hookimpl
from lemur.core.components import ComponentSpec, Kind


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


@envs_group.command("sandbox-check")
@click.option("--backend", "backend_name", default="local", show_default=True, help="Sandbox backend to check.")
@click.option("--check", "check_names", multiple=True, help="Run only this check (repeatable).")
def sandbox_check(backend_name: str, check_names: tuple[str, ...]) -> None:
    """Run the sandbox conformance suite against a backend and print pass/fail per check."""
    from lemur.envs.sandbox.commands import sandbox_check_command

    sandbox_check_command(backend_name, check_names)


@envs_group.command("build-image")
@click.option("--force", is_flag=True, help="Rebuild the Debian base image even if it exists.")
@click.option("--base", metavar="IMAGE", help="Build on IMAGE (e.g. debian:bookworm-slim) instead of bootstrapping.")
@click.option("--tag", metavar="TAG", help="Tag of the sandbox image (default lemur/sandbox:bookworm).")
@click.option("--intercode-bash", is_flag=True, help="Also build lemur/intercode-bash:bookworm (InterCode's tools).")
def build_image(force: bool, base: str | None, tag: str | None, intercode_bash: bool) -> None:
    """Build the docker sandbox image offline (needs root and a Docker daemon; DOCKER_HOST is honoured)."""
    from lemur.envs.sandbox.docker_image import build_image as build

    build(force=force, base=base, tag=tag, intercode_bash=intercode_bash)


@envs_group.command("build-root")
@click.argument("name")
@click.option("--force", is_flag=True, help="Rebuild the tree even if it exists.")
def build_root(name: str, force: bool) -> None:
    """Build the local sandbox's system tree NAME (intercode-bash) offline with mmdebstrap into the cache dir."""
    from lemur.envs.sandbox.system_roots import build_root as build

    click.echo(build(name, force=force))


@hookimpl
def lemur_sandboxes() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            "local",
            "lemur.envs.sandbox.local:LocalBackend",
            "bubblewrap sandbox: namespaces and rlimits, no daemon (the default)",
        ),
        ComponentSpec(
            "docker",
            "lemur.envs.sandbox.docker:DockerBackend",
            "one container per session on any Docker engine (DOCKER_HOST honoured)",
            extra="lemur-envs[docker]",
        ),
    ]


@hookimpl
def lemur_cli_commands(cli: click.Group) -> None:
    cli.add_command(envs_group)


@hookimpl
def lemur_envs() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            "lemur/InterCode-SQL-v0",
            "lemur.envs.intercode.sql:InterCodeSQLEnv",
            "InterCode-SQL: Spider questions answered by querying the database (SQLite or MariaDB)",
            extra="lemur-envs[intercode]",
            options={"max_episode_steps": 10},
        ),
        ComponentSpec(
            "lemur/InterCode-Bash-v0",
            "lemur.envs.intercode.bash:InterCodeBashEnv",
            "InterCode-Bash: NL2Bash requests on four prepared file systems, in the sandbox",
            options={"max_episode_steps": 10},
        ),
        ComponentSpec(
            "lemur/InterCode-CTF-v0",
            "lemur.envs.intercode.ctf:InterCodeCTFEnv",
            "InterCode-CTF: picoCTF flags found by exploring a sandboxed file system",
            options={"max_episode_steps": 10},
        ),
    ]
