"""Build the report's tables, in the paper's shapes, from loaded runs and the published scores.

Every number is a percentage (the headline score times 100). A group's ``Avg`` averages its
benchmark columns as the paper does (:attr:`PaperTable.average`): the unweighted mean, or for
the MINT tables the micro average, which pools the tasks (each column weighted by its sample
count; the paper's task counts for its own rows). An average needs every column of its group:
averaging a different subset would not be comparable with the paper's rows, so such a cell
stays empty. A published row shows the averages the paper prints where it prints them.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Collection, Mapping, Sequence

from lemur.eval.reports.loader import RunSummary
from lemur.eval.reports.paper import OVERALL, PaperRow, PaperScores, PaperTable

#: The paper's order of benchmark categories.
CATEGORIES = ("text", "code", "agent")
CATEGORY_LABELS = {"text": "Text", "code": "Code", "agent": "Agent"}
MISSING = "—"
#: The legend of every table.
LEGEND = (
    f"{MISSING} = not evaluated (or not published); an Avg needs every benchmark of its group, as the paper averages."
)
#: The note under a micro-averaged table.
MICRO_NOTE = "Averages pool the tasks of their benchmarks (micro average), as the paper does for MINT."


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes:
        key: A benchmark name, ``avg:<group>`` or ``all``.
        label: The header text.
        group: The label of the column group it belongs to (for a spanning header), if any.
        members: For an average column, the benchmark names it averages.
        weighted: For an average column, whether it is a micro average (members weighted by
            their number of tasks) rather than the unweighted mean.
    """

    key: str
    label: str
    group: str | None = None
    members: tuple[str, ...] = ()
    weighted: bool = False

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
    weighted: bool = False,
) -> tuple[Column, ...]:
    """Columns for ``(name, label, benchmarks)`` groups: each group's benchmarks, then its ``Avg``.

    Args:
        groups: The column groups in display order.
        labels: Display names of benchmarks (missing names are shown as they are).
        overall: If given, the label of a last column averaging every benchmark column.
        unaveraged: Names of groups that get no ``Avg`` column.
        weighted: Whether the averages are micro averages (see :class:`Column`).
    """
    columns: list[Column] = []
    for name, label, benchmarks in groups:
        columns += [Column(key=b, label=labels.get(b, b), group=label) for b in benchmarks]
        if name not in unaveraged:
            columns.append(
                Column(key=f"avg:{name}", label="Avg", group=label, members=tuple(benchmarks), weighted=weighted)
            )
    if overall:
        every = tuple(b for _, _, benchmarks in groups for b in benchmarks)
        columns.append(Column(key="all", label=overall, members=every, weighted=weighted))
    return tuple(columns)


def average(column: Column, scores: Mapping[str, float], weights: Mapping[str, float] | None = None) -> float | None:
    """The value of an average column: ``None`` unless every member has a score (and a weight, if weighted)."""
    members = [scores.get(name) for name in column.members]
    if any(value is None for value in members):
        return None
    values = [value for value in members if value is not None]
    if not column.weighted:
        return statistics.fmean(values)
    counts = [(weights or {}).get(name) for name in column.members]
    if any(count is None for count in counts) or not sum(c for c in counts if c is not None):
        return None
    return statistics.fmean(values, weights=[c for c in counts if c is not None])


def build_row(
    label: str,
    scores: Mapping[str, float],
    columns: Sequence[Column],
    *,
    reference: bool = False,
    weights: Mapping[str, float] | None = None,
    printed: Mapping[str, float] | None = None,
    decimals: int | Mapping[str, int] = 1,
) -> Row:
    """A row from benchmark scores in percent, with the averages filled in.

    Args:
        label: The row header.
        scores: Benchmark name -> score in percent.
        columns: The table's columns.
        reference: Whether the row holds published numbers.
        weights: Benchmark name -> number of tasks, for micro-averaged columns.
        printed: Column key -> an average as published, used instead of recomputing it.
        decimals: Decimal places of a reference row, for all columns or by column key (default
            1); see :func:`printed_decimals`.

    A reference row shows its values and averages with the paper's decimals ("26.0", not
    "26"); a measured row with one decimal.
    """
    values: list[float | None] = []
    texts: list[str] = []
    for column in columns:
        places = 1
        if reference:
            places = decimals if isinstance(decimals, int) else decimals.get(column.key, 1)
        if printed is not None and column.key in printed:
            value = printed[column.key]
        elif column.is_average:
            value = average(column, scores, weights)
        else:
            value = scores.get(column.key)
        text = MISSING if value is None else f"{value:.{places}f}"
        values.append(value)
        texts.append(text)
    return Row(label=label, values=tuple(values), texts=tuple(texts), reference=reference)


def printed_decimals(spec: PaperTable) -> int:
    """The decimal places ``spec``'s published numbers are printed with (at least 1).

    YAML keeps ``26.0`` as the float 26, so a single value cannot tell; the most decimals any
    of the table's values or averages has can (Table 3 prints one, the MINT tables two).
    """
    numbers = [value for row in spec.rows for value in (*row.values.values(), *row.averages.values())]
    return max([1, *(_decimals(value) for value in numbers)])


def _decimals(value: float) -> int:
    text = repr(float(value))
    if "e" in text or "." not in text:
        return 0
    return len(text.split(".")[1].rstrip("0"))


def _percent_scores(run: RunSummary) -> dict[str, float]:
    return {name: result.score * 100.0 for name, result in run.benchmarks.items()}


def _sample_counts(run: RunSummary) -> dict[str, float]:
    return {name: float(result.n) for name, result in run.benchmarks.items()}


def _printed_averages(row: PaperRow) -> dict[str, float]:
    """A published row's printed averages by column key."""
    return {("all" if key == OVERALL else f"avg:{key}"): value for key, value in row.averages.items()}


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
        [(group.name, group.label, group.benchmarks) for group in spec.groups],
        paper.labels,
        spec.overall,
        weighted=spec.average == "micro",
    )
    rows = _run_rows(runs, columns)
    notes = [MICRO_NOTE] if spec.average == "micro" else []
    if reference:
        rows += [
            build_row(
                f"{row.model} (paper)",
                row.values,
                columns,
                reference=True,
                weights=paper.tasks,
                printed=_printed_averages(row),
                decimals=printed_decimals(spec),
            )
            for row in spec.rows
        ]
        if spec.rows:
            notes.append(
                "(paper) rows: published numbers we could check, averages as printed; the rest are left empty,"
                " never guessed."
            )
    return Table(id=spec.id, title=spec.title, columns=columns, rows=tuple(rows), notes=tuple(notes))


def _run_rows(runs: Sequence[RunSummary], columns: Sequence[Column]) -> list[Row]:
    """A row per run that has at least one value in ``columns``."""
    rows = [
        build_row(label, _percent_scores(run), columns, weights=_sample_counts(run))
        for label, run in zip(run_labels(runs), runs, strict=True)
    ]
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
        Column(
            key=f"avg:{capability.name}",
            label=capability.label,
            members=table.benchmarks,
            weighted=table.average == "micro",
        )
        for capability, table in zip(paper.capabilities, tables, strict=True)
    )
    rows = _run_rows(runs, columns)
    if reference:
        decimals = {f"avg:{c.name}": printed_decimals(t) for c, t in zip(paper.capabilities, tables, strict=True)}
        for model, (scores, printed) in _published_scores(paper).items():
            row = build_row(
                f"{model} (paper)",
                scores,
                columns,
                reference=True,
                weights=paper.tasks,
                printed=printed,
                decimals=decimals,
            )
            if any(value is not None for value in row.values):
                rows.append(row)
    members = "; ".join(
        f"{capability.label} = {', '.join(paper.label(b) for b in table.benchmarks)}"
        + (" (micro average)" if table.average == "micro" else "")
        for capability, table in zip(paper.capabilities, tables, strict=True)
    )
    return Table(
        id="capabilities",
        title="Agent capabilities (the groups of paper Table 2)",
        columns=columns,
        rows=tuple(rows),
        notes=(f"Each capability is its table's average over its benchmarks: {members}.",),
    )


def _published_scores(paper: PaperScores) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    """By model, across all tables: every published value, and each capability's printed average."""
    published: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
    for table in paper.tables:
        for row in table.rows:
            scores, printed = published.setdefault(row.model, ({}, {}))
            scores.update(row.values)
            value = table.printed_average(row)
            if table.capability is not None and value is not None:
                printed[f"avg:{table.capability}"] = value
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
    axes = [
        Column(key=f"avg:{group.name}", label=group.label, members=group.benchmarks) for group in foundational.groups
    ]
    for capability in paper.capabilities:
        table = paper.capability_table(capability.name)
        axes.append(
            Column(
                key=f"avg:{capability.name}",
                label=capability.label,
                members=table.benchmarks,
                weighted=table.average == "micro",
            )
        )
    series = []
    for label, run in zip(run_labels(runs), runs, strict=True):
        scores, counts = _percent_scores(run), _sample_counts(run)
        series.append((label, [average(axis, scores, counts) for axis in axes]))
    keep = [i for i in range(len(axes)) if any(values[i] is not None for _, values in series)]
    return [axes[i].label for i in keep], [(label, [values[i] for i in keep]) for label, values in series]
