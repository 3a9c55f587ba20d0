"""The ``lemur eval report`` command (added to the ``lemur eval`` group by the plugin)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for report.md, report.html and plots/*.png (created if needed; files are replaced).",
)
@click.option(
    "--paper/--no-paper",
    default=True,
    show_default=True,
    help="Add the paper's published scores (bundled data) as reference rows.",
)
@click.option(
    "--format",
    "formats",
    default="md,html,png",
    show_default=True,
    metavar="LIST",
    help="Comma-separated outputs: md, html, png. The HTML page embeds its plots.",
)
def report_command(run_dirs: tuple[Path, ...], out_dir: Path, paper: bool, formats: str) -> None:
    """Compare evaluation runs side by side in the paper's table shapes.

    Reads each RUN_DIR's summary.json (written by `lemur eval run`) and writes a Markdown
    report, a self-contained HTML page and PNG plots: scores per benchmark with text / code /
    agent averages, the paper's Table 3 and agent-capability tables (tools, self-debug,
    feedback, exploration), success rate by interaction turn, and a capability radar chart.
    """
    from lemur.eval.reports.report import parse_formats, write_report

    report, written = write_report(run_dirs, out_dir, paper=paper, formats=parse_formats(formats))
    for note in report.notes:
        click.echo(f"note: {note}")
    for path in written:
        click.echo(f"wrote {path}")
