"""Build the report's tables, in the paper's shapes, from loaded runs and the published scores.

Every number is a percentage (the headline score times 100). A group's ``Avg`` is the
unweighted mean of its benchmark columns and needs all of them, as in the paper: averaging
a different subset would not be comparable with the paper's rows, so such a cell stays empty.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Collection, Mapping, Sequence

from lemur.eval.reports.loader import RunSummary
from lemur.eval.reports.paper import PaperScores, PaperTable

#: The paper's order of benchmark categories.
CATEGORIES = ("text", "code", "agent")
CATEGORY_LABELS = {"text": "Text", "code": "Code", "agent": "Agent"}
MISSING = "—"
#: The legend of every table.
LEGEND = (
    f"{MISSING} = not evaluated (or not published); an Avg needs every benchmark of its group, as the paper averages."
)


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes:
        key: A benchmark name, ``avg:<group>`` or ``all``.
        label: The header text.
        group: The label of the column group it belongs to (for a spanning header), if any.
        members: For an average column, the benchmark names it averages.
    """

    key: str
    label: str
    group: str | None = None
    members: tuple[str, ...] = ()

    @property
    def is_average(self) -> bool:
        """Whether the column averages other columns."""
        return bool(self.members)


@dataclasses.dataclass(frozen=True)
class Row:
    """One row: a run, or a published reference row.

    Attributes:
        label: The row header (the model).
        values: One value per column, in percent; ``None`` where there is none.
        texts: The values as displayed.
        reference: Whether the row holds the paper's published numbers.
    """

    label: str
    values: tuple[float | None, ...]
    texts: tuple[str, ...]
    reference: bool = False


@dataclasses.dataclass(frozen=True)
class Table:
    """A titled table with notes shown under it."""

    id: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()


def best_by_column(table: Table) -> dict[int, float]:
    """The highest measured (not published) value per column index, where at least two runs have one."""
    best = {}
    for index in range(len(table.columns)):
        values = [row.values[index] for row in table.rows if not row.reference and row.values[index] is not None]
        if len(values) >= 2:
            best[index] = max(v for v in values if v is not None)
    return best


def run_labels(runs: Sequence[RunSummary]) -> list[str]:
    """One row label per run: the model spec, plus the run id where two runs share a spec."""
    specs = [run.model_spec for run in runs]
    labels = []
    for run in runs:
        label = run.model_spec if specs.count(run.model_spec) == 1 else f"{run.model_spec} ({run.run_id})"
        labels.append(label if run.finished else f"{label} (unfinished)")
    return labels


def grouped_columns(
    groups: Sequence[tuple[str, str, Sequence[str]]],
    labels: Mapping[str, str],
    overall: str | None = None,
    unaveraged: Collection[str] = (),
) -> tuple[Column, ...]:
    """Columns for ``(name, label, benchmarks)`` groups: each group's benchmarks, then its ``Avg``.

    Args:
        groups: The column groups in display order.
        labels: Display names of benchmarks (missing names are shown as they are).
        overall: If given, the label of a last column averaging every benchmark column.
        unaveraged: Names of groups that get no ``Avg`` column.
    """
    columns: list[Column] = []
    for name, label, benchmarks in groups:
        columns += [Column(key=b, label=labels.get(b, b), group=label) for b in benchmarks]
        if name not in unaveraged:
            columns.append(Column(key=f"avg:{name}", label="Avg", group=label, members=tuple(benchmarks)))
    if overall:
        every = tuple(b for _, _, benchmarks in groups for b in benchmarks)
        columns.append(Column(key="all", label=overall, members=every))
    return tuple(columns)


def build_row(label: str, scores: Mapping[str, float], columns: Sequence[Column], *, reference: bool = False) -> Row:
    """A row from benchmark scores in percent, with the averages filled in.

    Published values are shown as printed; measured values and every average with one decimal.
    """
    values: list[float | None] = []
    texts: list[str] = []
    for column in columns:
        if column.is_average:
            members = [scores.get(name) for name in column.members]
            value = statistics.fmean(members) if all(v is not None for v in members) else None
            text = MISSING if value is None else f"{value:.1f}"
        else:
            value = scores.get(column.key)
            text = MISSING if value is None else (f"{value:g}" if reference else f"{value:.1f}")
        values.append(value)
        texts.append(text)
    return Row(label=label, values=tuple(values), texts=tuple(texts), reference=reference)


def _percent_scores(run: RunSummary) -> dict[str, float]:
    return {name: result.score * 100.0 for name, result in run.benchmarks.items()}


def scores_table(runs: Sequence[RunSummary], paper: PaperScores) -> Table:
    """Every benchmark of every run, grouped into text / code / agent with each group's Avg.

    Within a group, benchmarks the paper reports come first, in the paper's order. The agent
    group has no Avg: the paper averages agent benchmarks only within a capability.
    """
    paper_order = {name: index for index, name in enumerate(paper.labels)}
    by_category: dict[str, set[str]] = {category: set() for category in CATEGORIES}
    for run in runs:
        for name, result in run.benchmarks.items():
            by_category.setdefault(result.category, set()).add(name)
    groups = [
        (
            category,
            CATEGORY_LABELS.get(category, category),
            sorted(names, key=lambda n: (paper_order.get(n, len(paper_order)), n)),
        )
        for category, names in by_category.items()
        if names
    ]
    columns = grouped_columns(groups, paper.labels, unaveraged=("agent",))
    rows = tuple(
        build_row(label, _percent_scores(run), columns) for label, run in zip(run_labels(runs), runs, strict=True)
    )
    return Table(
        id="scores",
        title="Scores by benchmark",
        columns=columns,
        rows=rows,
    )


def paper_table(
    spec: PaperTable, runs: Sequence[RunSummary], paper: PaperScores, *, reference: bool = True
) -> Table | None:
    """One of the paper's tables with a row per run (and the published rows if ``reference``).

    Returns:
        ``None`` when no run evaluated any benchmark of the table.
    """
    if not any(name in run.benchmarks for run in runs for name in spec.benchmarks):
        return None
    columns = grouped_columns(
        [(group.name, group.label, group.benchmarks) for group in spec.groups], paper.labels, spec.overall
    )
    rows = _run_rows(runs, columns)
    notes = []
    if reference:
        rows += [build_row(f"{row.model} (paper)", row.values, columns, reference=True) for row in spec.rows]
        if spec.rows:
            notes.append("(paper) rows: published numbers we could check; the rest are left empty, never guessed.")
    return Table(id=spec.id, title=spec.title, columns=columns, rows=tuple(rows), notes=tuple(notes))


def _run_rows(runs: Sequence[RunSummary], columns: Sequence[Column]) -> list[Row]:
    """A row per run that has at least one value in ``columns``."""
    rows = [build_row(label, _percent_scores(run), columns) for label, run in zip(run_labels(runs), runs, strict=True)]
    return [row for row in rows if any(value is not None for value in row.values)]


def capability_table(runs: Sequence[RunSummary], paper: PaperScores, *, reference: bool = True) -> Table | None:
    """The paper's Table 2 view: one column per agent capability, each its table's Avg.

    Returns:
        ``None`` when no run evaluated any benchmark of any capability.
    """
    tables = [paper.capability_table(capability.name) for capability in paper.capabilities]
    if not any(name in run.benchmarks for run in runs for table in tables for name in table.benchmarks):
        return None
    columns = tuple(
        Column(key=f"avg:{capability.name}", label=capability.label, members=table.benchmarks)
        for capability, table in zip(paper.capabilities, tables, strict=True)
    )
    rows = _run_rows(runs, columns)
    if reference:
        published = _published_scores(paper)
        for model, scores in published.items():
            row = build_row(f"{model} (paper)", scores, columns, reference=True)
            if any(value is not None for value in row.values):
                rows.append(row)
    members = "; ".join(
        f"{capability.label} = {', '.join(paper.label(b) for b in table.benchmarks)}"
        for capability, table in zip(paper.capabilities, tables, strict=True)
    )
    return Table(
        id="capabilities",
        title="Agent capabilities (the groups of paper Table 2)",
        columns=columns,
        rows=tuple(rows),
        notes=(f"Each capability is the mean of its benchmarks: {members}.",),
    )


def _published_scores(paper: PaperScores) -> dict[str, dict[str, float]]:
    """Every published value by model, across all tables."""
    published: dict[str, dict[str, float]] = {}
    for table in paper.tables:
        for row in table.rows:
            published.setdefault(row.model, {}).update(row.values)
    return published


def radar_series(
    runs: Sequence[RunSummary], paper: PaperScores
) -> tuple[list[str], list[tuple[str, list[float | None]]]]:
    """Axes and per-run values for the capability radar (paper Figure 1's view).

    The axes are Text and Code (paper Table 3's group averages) and the four Table 2
    capabilities, keeping only those for which at least one run has a value.

    Returns:
        ``(axis labels, [(run label, value per axis in percent or None), ...])``.
    """
    foundational = next(table for table in paper.tables if table.capability is None)
    axes: list[tuple[str, tuple[str, ...]]] = [(group.label, group.benchmarks) for group in foundational.groups]
    axes += [
        (capability.label, paper.capability_table(capability.name).benchmarks) for capability in paper.capabilities
    ]
    series = []
    for label, run in zip(run_labels(runs), runs, strict=True):
        scores = _percent_scores(run)
        values = []
        for _, members in axes:
            member_values = [scores.get(name) for name in members]
            values.append(statistics.fmean(member_values) if all(v is not None for v in member_values) else None)
        series.append((label, values))
    keep = [i for i in range(len(axes)) if any(values[i] is not None for _, values in series)]
    return [axes[i][0] for i in keep], [(label, [values[i] for i in keep]) for label, values in series]
