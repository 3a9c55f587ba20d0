"""Build a report from run directories in memory, then write its files all at once.

Everything is read, validated and rendered before the first byte is written; each file is
written to a temporary name in the output directory and renamed into place, so a failed
report leaves no half-written file behind.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from lemur.core.errors import LemurError, MissingDependencyError
from lemur.eval.reports.loader import RunSummary, load_runs
from lemur.eval.reports.paper import Citation, PaperScores, load_paper_scores
from lemur.eval.reports.tables import (
    Table,
    capability_table,
    paper_table,
    radar_series,
    run_labels,
    scores_table,
)
from lemur.eval.results import new_file_mode

#: Output formats, in the order they are written.
FORMATS = ("md", "html", "png")
MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
PLOTS_DIR = "plots"


class ReportError(LemurError):
    """The report's options or output directory are not usable."""


@dataclasses.dataclass(frozen=True)
class Plot:
    """A rendered PNG.

    Attributes:
        name: File name under ``plots/``.
        title: Heading shown above it.
        png: The PNG bytes.
    """

    name: str
    title: str
    png: bytes


@dataclasses.dataclass(frozen=True)
class Report:
    """Everything a writer needs, already computed.

    Attributes:
        runs: The runs, in the order given.
        labels: The row label of each run.
        tables: The tables in display order.
        plots: The rendered plots (empty when plots were not drawn).
        notes: Lines for the reader about what is missing or was skipped.
        citation: The paper whose table shapes (and, with ``paper``, published rows) are used.
        paper: Whether published reference rows are included.
        sources: ``(row label, table title, where the numbers were checked)`` for every
            reference row shown.
    """

    runs: tuple[RunSummary, ...]
    labels: tuple[str, ...]
    tables: tuple[Table, ...]
    plots: tuple[Plot, ...]
    notes: tuple[str, ...]
    citation: Citation
    paper: bool
    sources: tuple[tuple[str, str, str], ...] = ()


#: Shown under the runs table when a run had not finished.
UNFINISHED_NOTE = "(unfinished): that run had not finished; its scores cover the samples done so far."
#: Header of the runs overview table.
RUN_COLUMNS = ("Model", "Run id", "Backend", "Benchmarks", "Created", "Finished", "Git revision")


def run_rows(report: Report) -> list[tuple[str, ...]]:
    """One line per run for the overview table, in :data:`RUN_COLUMNS` order."""
    return [
        (
            label,
            run.run_id,
            run.backend or "?",
            str(len(run.benchmarks)),
            run.created or "?",
            "yes" if run.finished else "no",
            (run.git_revision or "unknown")[:12],
        )
        for label, run in zip(report.labels, report.runs, strict=True)
    ]


def parse_formats(text: str) -> tuple[str, ...]:
    """Parse ``--format`` (``md,html,png``) into known formats, in canonical order.

    Raises:
        ReportError: Empty, or a format that is not one of :data:`FORMATS`.
    """
    requested = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = sorted(set(requested) - set(FORMATS))
    if unknown:
        raise ReportError(f"--format: unknown format {', '.join(map(repr, unknown))}; allowed: {', '.join(FORMATS)}")
    if not requested:
        raise ReportError(f"--format: no format given; allowed: {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in requested)


def build_report(
    run_dirs: Sequence[str | Path],
    *,
    paper: bool = True,
    plots: bool = True,
    scores: PaperScores | None = None,
) -> Report:
    """Load the runs and compute every table and plot.

    Args:
        run_dirs: Run directories written by ``lemur eval run``.
        paper: Include the paper's published rows as reference rows.
        plots: Draw PNG plots. When matplotlib is missing they are skipped and a note says so.
        scores: The paper's tables; ``None`` means the bundled data.

    Raises:
        RunSummaryError: A run directory or its ``summary.json`` is missing or malformed.
    """
    runs = load_runs(run_dirs)
    scores = scores or load_paper_scores()
    labels = run_labels(runs)
    notes: list[str] = []
    tables: list[Table] = [scores_table(runs, scores)]
    if not any(run.benchmarks for run in runs):
        tables = []
        notes.append("No benchmark has results yet in these runs.")
    for spec in scores.tables:
        if spec.capability is None:
            table = paper_table(spec, runs, scores, reference=paper)
            if table is not None:
                tables.append(table)
    capabilities = capability_table(runs, scores, reference=paper)
    if capabilities is not None:
        tables.append(capabilities)
    for spec in scores.tables:
        if spec.capability is not None:
            table = paper_table(spec, runs, scores, reference=paper)
            if table is not None:
                tables.append(table)
    shown = {table.id for table in tables}
    sources = tuple(
        (f"{row.model} (paper)", spec.title, row.source)
        for spec in scores.tables
        if paper and spec.id in shown
        for row in spec.rows
    )
    drawn: list[Plot] = []
    if plots:
        try:
            drawn = _draw_plots(runs, labels, scores, notes)
        except MissingDependencyError as error:
            notes.append(f"Plots skipped: {error}.")
    return Report(
        runs=tuple(runs),
        labels=tuple(labels),
        tables=tuple(tables),
        plots=tuple(drawn),
        notes=tuple(notes),
        citation=scores.paper,
        paper=paper,
        sources=sources,
    )


def _draw_plots(runs: Sequence[RunSummary], labels: Sequence[str], scores: PaperScores, notes: list[str]) -> list[Plot]:
    from lemur.eval.reports.plots import radar_png, success_by_turn_png

    drawn = []
    # A run keeps the same color in every plot.
    color = {label: f"C{index % 10}" for index, label in enumerate(labels)}
    axes, series = radar_series(runs, scores)
    series = [(label, values) for label, values in series if any(v is not None for v in values)]
    if len(axes) >= 3:
        png = radar_png(axes, series, [color[label] for label, _ in series])
        drawn.append(Plot(name="capabilities_radar.png", title="Capability groups", png=png))
    else:
        notes.append(
            f"No radar chart: it needs scores for at least 3 capability groups, these runs have {len(axes)}"
            + (f" ({', '.join(axes)})." if axes else ".")
        )
    agent_benchmarks: list[str] = []
    for run in runs:
        for name, result in run.benchmarks.items():
            if result.success_by_turn and name not in agent_benchmarks:
                agent_benchmarks.append(name)
    for name in agent_benchmarks:
        lines = [
            (label, list(run.benchmarks[name].success_by_turn or ()))
            for label, run in zip(labels, runs, strict=True)
            if name in run.benchmarks and run.benchmarks[name].success_by_turn
        ]
        title = scores.label(name)
        drawn.append(
            Plot(
                name=f"success_by_turn_{_file_safe(name)}.png",
                title=f"{title}: success rate by interaction turn",
                png=success_by_turn_png(title, lines, [color[label] for label, _ in lines]),
            )
        )
    return drawn


def _file_safe(name: str) -> str:
    """``name`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced, for a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def render(report: Report, formats: Iterable[str]) -> dict[str, bytes]:
    """The report's files as ``{relative path: bytes}``, rendered in memory."""
    from lemur.eval.reports.html import render_html
    from lemur.eval.reports.markdown import render_markdown

    formats = set(formats)
    files: dict[str, bytes] = {}
    if "png" in formats:
        for plot in report.plots:
            files[f"{PLOTS_DIR}/{plot.name}"] = plot.png
    if "md" in formats:
        files[MARKDOWN_FILE] = render_markdown(report, plots_dir=PLOTS_DIR if "png" in formats else None).encode()
    if "html" in formats:
        files[HTML_FILE] = render_html(report).encode()
    return files


def write_files(out_dir: str | Path, files: dict[str, bytes]) -> list[Path]:
    """Write ``files`` under ``out_dir``, each through a temporary file renamed into place.

    Raises:
        ReportError: ``out_dir`` exists but is not a directory, or cannot be created.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"--out {out_dir}: exists and is not a directory")
    try:
        for relative in files:
            (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReportError(f"--out {out_dir}: cannot create the output directory ({error.strerror})") from None
    written = []
    for relative, content in files.items():
        target = out_dir / relative
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            os.fchmod(handle, new_file_mode())  # mkstemp makes 0600; reports are as readable as open() makes files
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def write_report(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    paper: bool = True,
    formats: Sequence[str] = FORMATS,
) -> tuple[Report, list[Path]]:
    """Build the report for ``run_dirs`` and write it under ``out_dir``.

    Args:
        run_dirs: Run directories written by ``lemur eval run``.
        out_dir: Where ``report.md``, ``report.html`` and ``plots/*.png`` go (created if needed).
        paper: Include the paper's published rows as reference rows.
        formats: Any of :data:`FORMATS`. HTML embeds the plots whether or not ``png`` is asked for.

    Returns:
        The report and the paths written.

    Raises:
        RunSummaryError: A run directory or its ``summary.json`` is missing or malformed.
        ReportError: An unknown format, or an unusable output directory.
        MissingDependencyError: Only PNGs were asked for and matplotlib is missing.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ReportError(f"unknown or no formats {unknown}; allowed: {', '.join(FORMATS)}")
    out_path = Path(out_dir)
    if out_path.exists() and not out_path.is_dir():
        raise ReportError(f"--out {out_path}: exists and is not a directory")
    if set(formats) == {"png"}:
        from lemur.eval.reports.plots import plots_available

        if not plots_available():
            raise MissingDependencyError("PNG plots", "matplotlib", "lemur-eval[report]")
    wants_plots = "png" in formats or "html" in formats
    report = build_report(run_dirs, paper=paper, plots=wants_plots)
    return report, write_files(out_path, render(report, formats))
