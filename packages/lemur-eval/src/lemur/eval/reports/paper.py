"""The paper's table shapes and published scores, read from the bundled ``paper_scores.yaml``.

A :class:`PaperTable` says which benchmark columns a table of the paper has, how they are
grouped (text / code, or one agent capability), how the paper averages them, and which
published rows we could check against a source. Numbers that were not checked are absent
from the data file, so a reference row may have empty cells.

The paper averages in two ways: Table 3's ``Avg`` is the unweighted mean of its benchmark
columns (``average: mean``), while the MINT tables (4 and 6) pool the tasks of their subsets
(``average: micro``: each column weighted by its number of tasks, :attr:`PaperScores.tasks`
for the published rows, the run's sample count for a run). A row also keeps the averages
the paper prints, which may differ from the ones recomputed from its values (the tests say
where and by how much).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Literal

import pydantic

from lemur.core.config import ConfigModel, load_config

#: The data file bundled with this package.
PAPER_SCORES_FILE = "paper_scores.yaml"
#: The key of a table's overall average in :attr:`PaperRow.averages`.
OVERALL = "all"


class Citation(ConfigModel):
    """Where the published numbers come from."""

    title: str = pydantic.Field(description="The paper's title.")
    authors: str = pydantic.Field(description="Author surnames, comma separated.")
    venue: str = pydantic.Field(description="Where it was published.")
    arxiv: str = pydantic.Field(description="The arXiv identifier.")
    url: str = pydantic.Field(description="A link to the paper.")


class ColumnGroup(ConfigModel):
    """A group of benchmark columns that the paper averages (``Avg``)."""

    name: str = pydantic.Field(description="Machine name, e.g. 'text' or 'tools'.")
    label: str = pydantic.Field(description="Display name of the group.")
    benchmarks: tuple[str, ...] = pydantic.Field(min_length=1, description="Lemur benchmark names, in paper order.")


class PaperRow(ConfigModel):
    """One published row: a model and the values we could check, in percent."""

    model: str = pydantic.Field(description="The model name as the paper prints it.")
    values: dict[str, float] = pydantic.Field(
        default_factory=dict, description="Benchmark name -> published score in percent."
    )
    averages: dict[str, float] = pydantic.Field(
        default_factory=dict,
        description=f"The averages the paper prints: group name (or {OVERALL!r} for the overall column) -> percent.",
    )
    extra: dict[str, float] = pydantic.Field(
        default_factory=dict,
        description="Other numbers the paper prints in this row (e.g. its Δfeedback), by the paper's column name.",
    )
    source: str = pydantic.Field(min_length=1, description="Where each value was checked.")

    @pydantic.field_validator("values", "averages")
    @classmethod
    def check_percentages(cls, values: dict[str, float]) -> dict[str, float]:
        """Published scores are percentages in [0, 100]."""
        for name, value in values.items():
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"{name}: {value} is not a percentage in [0, 100]")
        return values

    @pydantic.model_validator(mode="after")
    def check_not_empty(self) -> PaperRow:
        """A row publishes at least one value or average."""
        if not self.values and not self.averages:
            raise ValueError(f"row {self.model!r} has neither values nor averages")
        return self


class PaperTable(ConfigModel):
    """One results table of the paper."""

    id: str = pydantic.Field(description="Short id, e.g. 'table3'.")
    title: str = pydantic.Field(description="Caption shown above the table.")
    groups: tuple[ColumnGroup, ...] = pydantic.Field(min_length=1, description="Column groups in paper order.")
    overall: str | None = pydantic.Field(
        default=None, description="Label of a final column averaging every benchmark column, if the paper has one."
    )
    capability: str | None = pydantic.Field(default=None, description="The Table 2 capability this table measures.")
    average: Literal["mean", "micro"] = pydantic.Field(
        default="mean",
        description="How the paper averages columns: 'mean' (unweighted) or 'micro' (pooled over tasks).",
    )
    rows: tuple[PaperRow, ...] = pydantic.Field(default=(), description="Published rows we could check.")

    @property
    def benchmarks(self) -> tuple[str, ...]:
        """Every benchmark column, group by group."""
        return tuple(name for group in self.groups for name in group.benchmarks)

    @property
    def average_keys(self) -> tuple[str, ...]:
        """The keys a row's printed averages may use: each group's name, then the overall one if any."""
        return tuple(group.name for group in self.groups) + ((OVERALL,) if self.overall else ())

    def printed_average(self, row: PaperRow) -> float | None:
        """The average over every benchmark of the table that ``row`` prints, if it prints one.

        That is the overall column, or the only group's average when the table has one group.
        """
        if self.overall:
            return row.averages.get(OVERALL)
        return row.averages.get(self.groups[0].name) if len(self.groups) == 1 else None

    @pydantic.model_validator(mode="after")
    def check_row_columns(self) -> PaperTable:
        """Every published value and average belongs to a column of this table."""
        for row in self.rows:
            unknown = sorted(set(row.values) - set(self.benchmarks))
            if unknown:
                raise ValueError(f"row {row.model!r} has values for {unknown}, which are not columns of {self.id}")
            unknown = sorted(set(row.averages) - set(self.average_keys))
            if unknown:
                raise ValueError(f"row {row.model!r} has averages for {unknown}, which are not averages of {self.id}")
        return self


class Capability(ConfigModel):
    """One of the paper's Table 2 agent capabilities."""

    name: str = pydantic.Field(description="Machine name, e.g. 'self-debug'.")
    label: str = pydantic.Field(description="Display name.")


class PaperScores(ConfigModel):
    """The whole data file."""

    paper: Citation = pydantic.Field(description="The source of every number.")
    labels: dict[str, str] = pydantic.Field(description="Benchmark name -> the paper's column name.")
    tables: tuple[PaperTable, ...] = pydantic.Field(description="The paper's results tables.")
    capabilities: tuple[Capability, ...] = pydantic.Field(description="Table 2's capability groups, in order.")
    tasks: dict[str, pydantic.PositiveInt] = pydantic.Field(
        default_factory=dict,
        description="Benchmark name -> number of tasks the paper evaluated, the weights of its micro averages.",
    )

    def label(self, benchmark: str) -> str:
        """The paper's name for ``benchmark``, or the benchmark name itself."""
        return self.labels.get(benchmark, benchmark)

    def capability_table(self, capability: str) -> PaperTable:
        """The table that measures ``capability``.

        Raises:
            KeyError: No table measures it.
        """
        for table in self.tables:
            if table.capability == capability:
                return table
        raise KeyError(capability)

    @pydantic.model_validator(mode="after")
    def check_capabilities(self) -> PaperScores:
        """Each capability is measured by exactly one table; a micro-averaged table knows its task counts."""
        for capability in self.capabilities:
            count = sum(table.capability == capability.name for table in self.tables)
            if count != 1:
                raise ValueError(f"capability {capability.name!r} is measured by {count} tables, expected 1")
        for table in self.tables:
            missing = [name for name in table.benchmarks if name not in self.tasks]
            if table.average == "micro" and missing:
                raise ValueError(f"{table.id} is micro-averaged but tasks has no count for {missing}")
        return self


@functools.cache
def load_paper_scores(path: str | Path | None = None) -> PaperScores:
    """Load and validate the paper's published scores.

    Args:
        path: A data file in the ``paper_scores.yaml`` format; ``None`` means the bundled one.

    Raises:
        ConfigError: The file is missing or does not match the format.
    """
    if path is None:
        path = Path(str(resources.files("lemur.eval.reports").joinpath(PAPER_SCORES_FILE)))
    return load_config(path, PaperScores)
