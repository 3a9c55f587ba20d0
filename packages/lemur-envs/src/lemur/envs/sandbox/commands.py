"""``lemur envs sandbox-check``: run the conformance suite against a backend on this machine."""

from __future__ import annotations

from collections.abc import Sequence

import click

from lemur.envs.sandbox import get_backend
from lemur.envs.sandbox.conformance import CheckResult, run_checks, select_checks

_LABELS = {"passed": "PASS", "failed": "FAIL", "known-failure": "KNOWN", "error": "ERROR"}


def sandbox_check_command(backend_name: str, check_names: Sequence[str]) -> None:
    """Print one line per conformance check and a summary; exit status 1 if any check failed.

    Raises:
        UnknownComponentError: No backend has that name.
        SandboxUnavailableError: The backend cannot run here (the message says how to fix it).
        click.BadParameter: A ``--check`` name is not a check.
    """
    backend = get_backend(backend_name)
    backend.check_available()
    try:
        checks = select_checks(check_names or None)
    except KeyError as error:
        raise click.BadParameter(str(error.args[0]), param_hint="--check") from None
    click.echo(f"sandbox backend {backend_name!r}: {len(checks)} conformance checks")

    def show(result: CheckResult) -> None:
        line = f"{_LABELS[result.status]:<6} {result.name:<28} {result.seconds:6.2f} s"
        if result.detail:
            line += f"  {result.detail}"
        click.echo(line)

    results = run_checks(backend, [item.name for item in checks], on_result=show)
    counts = {status: sum(result.status == status for result in results) for status in _LABELS}
    click.echo(
        f"{backend_name}: {counts['passed']} passed, {counts['failed'] + counts['error']} failed, "
        f"{counts['known-failure']} known failures"
    )
    if counts["failed"] or counts["error"]:
        raise click.exceptions.Exit(1)
