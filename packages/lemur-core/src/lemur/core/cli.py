"""The ``lemur`` command: its root group, ``--version``, ``lemur plugins``, and error handling.

Packages and third-party plugins add command groups through the ``lemur_cli_commands`` hook.
Only :func:`main` turns a :class:`~lemur.core.errors.LemurError` into ``error: <message>`` on
stderr and exit status 2 (with the traceback only under ``--debug``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence

import click

from lemur.core.components import Kind
from lemur.core.errors import ExitCode, LemurError, PluginError
from lemur.core.plugins import LemurPluginManager, get_plugin_manager


def _version_text() -> str:
    import importlib.metadata

    versions = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("lemur-"):
            versions[name.lower()] = dist.version
    parts = ", ".join(f"{name} {version}" for name, version in sorted(versions.items()))
    core = versions.get("lemur-core", "unknown")
    return f"lemur {core} ({parts})"


def build_cli(manager: LemurPluginManager) -> click.Group:
    """Build the root ``lemur`` group with every plugin's commands added.

    Raises:
        PluginError: A plugin added a command under a name that was already taken.
    """

    @click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
    @click.option(
        "--version",
        is_flag=True,
        is_eager=True,
        expose_value=False,
        callback=_print_version,
        help="Print the versions of the installed lemur packages and exit.",
    )
    @click.option("--config", "config_path", metavar="FILE", help="Lemur settings YAML (also $LEMUR_CONFIG).")
    @click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
    def cli(config_path: str | None, debug: bool) -> None:
        """Lemur: build and measure language agents.

        Train (pre-training and SFT), evaluate (text, code and agent benchmarks) and extend
        everything with plugins. Run `lemur plugins` to see what is installed.
        """

    cli.add_command(plugins_command)
    for impl in manager.hook.lemur_cli_commands.get_hookimpls():
        before = dict(cli.commands)
        impl.function(cli=cli)
        for name, command in before.items():
            if cli.commands.get(name) is not command:
                raise PluginError(f"plugin {impl.plugin_name!r} tried to replace the existing command 'lemur {name}'")
    return cli


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        click.echo(_version_text())
        ctx.exit(ExitCode.OK)


@click.command("plugins")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice([kind.value for kind in Kind]),
    help="Only list components of this kind (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_command(kinds: tuple[str, ...], as_json: bool) -> None:
    """List every plugin and every component it provides, with the providing distribution."""
    manager = get_plugin_manager()
    selected = [Kind(value) for value in kinds] or list(Kind)
    rows = [
        {
            "kind": kind.value,
            "name": provided.spec.name,
            "distribution": provided.distribution,
            "plugin": provided.plugin,
            "description": provided.spec.description,
        }
        for kind in selected
        for provided in manager.components(kind)
    ]
    failures = [{"plugin": f.plugin, "distribution": f.distribution, "error": f.error} for f in manager.failures]
    if as_json:
        click.echo(json.dumps({"components": rows, "failed_plugins": failures}, indent=2))
        return
    plugin_rows = [
        {"plugin": name, "distribution": manager.distributions.get(name, "?")}
        for name, _ in sorted(manager.list_name_plugin())
    ]
    click.echo(f"plugins ({len(plugin_rows)} loaded, {len(failures)} failed):")
    for row in plugin_rows:
        click.echo(f"  {row['plugin']:<24} {row['distribution']}")
    for failure in failures:
        click.echo(f"  {failure['plugin']:<24} {failure['distribution']}  FAILED: {failure['error']}")
    click.echo("")
    click.echo(_table(rows, ["kind", "name", "distribution", "description"]))


def _table(rows: list[dict[str, str]], columns: list[str]) -> str:
    if not rows:
        return "no components"
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)


def _leading_option(argv: Sequence[str], name: str) -> str | None:
    """The value of a root option (``--config X`` or ``--config=X``) given before the sub-command."""
    for index, arg in enumerate(argv):
        if not arg.startswith("-"):
            return None
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lemur`` command and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    leading = argv[: next((i for i, a in enumerate(argv) if not a.startswith("-")), len(argv))]
    debug = "--debug" in leading or os.environ.get("LEMUR_DEBUG") == "1"
    try:
        config_path = _leading_option(argv, "--config")
        if config_path is not None:
            os.environ["LEMUR_CONFIG"] = config_path
        if os.environ.get("LEMUR_CONFIG"):
            from lemur.core.settings import get_settings

            get_settings()  # validate before anything else runs
        cli = build_cli(get_plugin_manager())
        result = cli.main(args=argv, prog_name="lemur", standalone_mode=False)
        return int(result) if isinstance(result, int) else ExitCode.OK
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except LemurError as error:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {error}", err=True)
        return error.exit_code


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
