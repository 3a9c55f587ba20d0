"""Render a :class:`~lemur.eval.reports.report.Report` as one self-contained HTML page.

The page has inline CSS and its plots as base64 ``data:`` URIs: it loads nothing from
anywhere. The only outward link is the citation of the paper.
"""

from __future__ import annotations

import base64
from html import escape

from lemur.eval.reports.report import RUN_COLUMNS, UNFINISHED_NOTE, Report, run_rows
from lemur.eval.reports.tables import LEGEND, MISSING, Table, best_by_column

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 1200px; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.45; }
h1 { font-size: 1.7rem; border-bottom: 2px solid #d0d7de; padding-bottom: .4rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; }
p.lead { color: #57606a; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .9rem; margin: .6rem 0; }
th, td { padding: .35rem .6rem; border-bottom: 1px solid #e1e4e8; white-space: nowrap; }
thead th { background: #f6f8fa; border-bottom: 2px solid #d0d7de; }
th.group { text-align: center; border-bottom: 1px solid #d0d7de; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.avg, th.avg { background: #f3f6fa; font-weight: 600; }
td.missing { color: #8c959f; }
tr.reference td { color: #57606a; font-style: italic; background: #fbfbfc; }
tr.reference td.avg { background: #f1f3f5; }
td.best { font-weight: 700; color: #0a3069; }
.notes { color: #57606a; font-size: .85rem; margin: .2rem 0 0; padding-left: 1.1rem; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; border: 1px solid #d0d7de; border-radius: 6px; }
figcaption { color: #57606a; font-size: .85rem; margin-top: .3rem; }
.plots { display: flex; flex-wrap: wrap; gap: 1.2rem; align-items: flex-start; }
footer { margin-top: 2.5rem; border-top: 1px solid #d0d7de; padding-top: .8rem; font-size: .85rem; color: #57606a; }
"""


def table_html(table: Table) -> str:
    """One table as an HTML fragment: a two-level header where columns are grouped."""
    grouped = any(column.group for column in table.columns)
    parts = [f'<section id="{escape(table.id)}"><h2>{escape(table.title)}</h2><div class="scroll"><table>', "<thead>"]
    if grouped:
        parts.append('<tr><th rowspan="2">Model</th>')
        index = 0
        while index < len(table.columns):
            group = table.columns[index].group
            span = 1
            while index + span < len(table.columns) and table.columns[index + span].group == group:
                span += 1
            if group:
                parts.append(f'<th class="group" colspan="{span}">{escape(group)}</th>')
            else:
                parts.append(f'<th class="num avg" rowspan="2">{escape(table.columns[index].label)}</th>')
            index += span
        parts.append("</tr><tr>")
        for column in table.columns:
            if column.group:
                css = "num avg" if column.is_average else "num"
                parts.append(f'<th class="{css}">{escape(column.label)}</th>')
        parts.append("</tr>")
    else:
        parts.append("<tr><th>Model</th>")
        parts += [
            f'<th class="num{" avg" if c.is_average and c.group else ""}">{escape(c.label)}</th>' for c in table.columns
        ]
        parts.append("</tr>")
    parts.append("</thead><tbody>")
    best = best_by_column(table)
    for row in table.rows:
        parts.append('<tr class="reference">' if row.reference else "<tr>")
        parts.append(f"<td>{escape(row.label)}</td>")
        for index, (column, text) in enumerate(zip(table.columns, row.texts, strict=True)):
            classes = ["num"]
            if column.is_average and column.group:
                classes.append("avg")
            if text == MISSING:
                classes.append("missing")
            elif not row.reference and index in best and row.values[index] == best[index]:
                classes.append("best")
            parts.append(f'<td class="{" ".join(classes)}">{escape(text)}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    if table.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{escape(note)}</li>" for note in table.notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


def _runs_html(report: Report) -> str:
    header = "".join(f"<th>{escape(name)}</th>" for name in RUN_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in run_rows(report))
    table = f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
    note = (
        "" if all(run.finished for run in report.runs) else f'<ul class="notes"><li>{escape(UNFINISHED_NOTE)}</li></ul>'
    )
    return f'<section id="runs"><h2>Runs</h2><div class="scroll">{table}</div>{note}</section>'


def _plots_html(report: Report) -> str:
    if not report.plots:
        return ""
    figures = []
    for plot in report.plots:
        data = base64.b64encode(plot.png).decode("ascii")
        figures.append(
            f'<figure><img alt="{escape(plot.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(plot.title)}</figcaption></figure>"
        )
    return f'<section id="plots"><h2>Plots</h2><div class="plots">{"".join(figures)}</div></section>'


def render_html(report: Report) -> str:
    """The whole report as a self-contained HTML document."""
    citation = report.citation
    lead = (
        f"{len(report.runs)} run(s). Scores are percentages: each benchmark's headline metric × 100. "
        f"Table shapes and averages follow the Lemur paper. {LEGEND} "
        "Bold marks the best run in a column; rows in grey italics are the paper's published numbers."
    )
    body = [f'<h1>Lemur evaluation report</h1><p class="lead">{escape(lead)}</p>', _runs_html(report)]
    body += [table_html(table) for table in report.tables]
    body.append(_plots_html(report))
    if report.notes:
        body.append(
            '<section id="notes"><h2>Notes</h2><ul>'
            + "".join(f"<li>{escape(note)}</li>" for note in report.notes)
            + "</ul></section>"
        )
    reference = [
        f"{escape(citation.authors)}. <em>{escape(citation.title)}</em>. {escape(citation.venue)}. "
        f'<a href="{escape(citation.url)}">arXiv:{escape(citation.arxiv)}</a>.'
    ]
    if not report.paper:
        reference.append("Published reference rows are off (--no-paper).")
    elif report.sources:
        items = "".join(
            f"<li>{escape(label)}, {escape(title)}: {escape(source)}</li>" for label, title, source in report.sources
        )
        reference.append(f"Where each published row shown above was checked:<ul>{items}</ul>")
    body.append("<footer>" + "<br>".join(reference) + "</footer>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Lemur evaluation report</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )
