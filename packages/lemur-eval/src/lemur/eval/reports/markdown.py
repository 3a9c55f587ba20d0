"""Render a :class:`~lemur.eval.reports.report.Report` as Markdown (GitHub pipe tables)."""

from __future__ import annotations

from collections.abc import Sequence

from lemur.eval.reports.report import RUN_COLUMNS, UNFINISHED_NOTE, Report, run_rows
from lemur.eval.reports.tables import LEGEND, MISSING, Table, best_by_column


def _cell(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("\n", " ")


def _pipe_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> list[str]:
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def table_markdown(table: Table) -> list[str]:
    """One table as Markdown lines: heading, pipe table (reference rows in italics), notes."""
    header = ["Model"]
    for column in table.columns:
        if column.is_average and column.group:
            header.append(f"{column.group} Avg")
        else:
            header.append(column.label)
    best = best_by_column(table)
    rows = []
    for row in table.rows:
        texts = [row.label]
        for index, text in enumerate(row.texts):
            if text == MISSING:
                texts.append(text)
            elif row.reference:
                texts.append(f"*{text}*")
            else:
                texts.append(f"**{text}**" if index in best and row.values[index] == best[index] else text)
        rows.append([f"*{row.label}*" if row.reference else row.label, *texts[1:]])
    lines = [f"## {table.title}", "", *_pipe_table(header, rows), ""]
    if table.notes:
        lines += [*(f"{note}  " for note in table.notes), ""]
    return lines


def render_markdown(report: Report, plots_dir: str | None) -> str:
    """The whole report as Markdown.

    Args:
        report: The computed report.
        plots_dir: Where the PNGs are, relative to the Markdown file; ``None`` when no PNGs
            are written (the plots are then only listed).
    """
    citation = report.citation
    lines = [
        "# Lemur evaluation report",
        "",
        f"{len(report.runs)} run(s). Scores are percentages: each benchmark's headline metric × 100. "
        f"Table shapes and averages follow {citation.title} ({citation.venue}, arXiv:{citation.arxiv}). "
        f"{LEGEND} **Bold**: the best run in a column. Rows in *italics* are the paper's published numbers.",
        "",
        "## Runs",
        "",
        *_pipe_table(RUN_COLUMNS, run_rows(report), numeric_from=len(RUN_COLUMNS)),
        "",
    ]
    if not all(run.finished for run in report.runs):
        lines += [f"{UNFINISHED_NOTE}", ""]
    for table in report.tables:
        lines += table_markdown(table)
    if report.plots:
        lines += ["## Plots", ""]
        for plot in report.plots:
            if plots_dir is None:
                lines += [f"- {plot.title} (PNG not written; use --format png or the HTML report)"]
            else:
                lines += [f"### {plot.title}", "", f"![{plot.title}]({plots_dir}/{plot.name})", ""]
        lines.append("")
    if report.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in report.notes], ""]
    lines += _reference_section(report)
    return "\n".join(lines).rstrip() + "\n"


def _reference_section(report: Report) -> list[str]:
    citation = report.citation
    lines = ["## Reference", "", f"{citation.authors}. *{citation.title}*. {citation.venue}. <{citation.url}>", ""]
    if not report.paper:
        return [*lines, "Published reference rows are off (--no-paper).", ""]
    if report.sources:
        lines += ["Where each published row shown above was checked:", ""]
        lines += [f"- {label}, {title}: {source}" for label, title, source in report.sources]
        lines.append("")
    return lines
