"""The paper's table shapes and published scores, read from the bundled ``paper_scores.yaml``.

A :class:`PaperTable` says which benchmark columns a table of the paper has, how they are
grouped (text / code, or one agent capability), how the paper averages them, and which
published rows we could check against a source. Numbers that were not checked are absent
from the data file, so a reference row may have empty cells.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import pydantic

from lemur.core.config import ConfigModel, load_config

#: The data file bundled with this package.
PAPER_SCORES_FILE = "paper_scores.yaml"


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
    values: dict[str, float] = pydantic.Field(description="Benchmark name -> published score in percent.")
    source: str = pydantic.Field(min_length=1, description="Where each value was checked.")

    @pydantic.field_validator("values")
    @classmethod
    def check_percentages(cls, values: dict[str, float]) -> dict[str, float]:
        """Published scores are percentages in [0, 100]."""
        for name, value in values.items():
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"{name}: {value} is not a percentage in [0, 100]")
        return values


class PaperTable(ConfigModel):
    """One results table of the paper."""

    id: str = pydantic.Field(description="Short id, e.g. 'table3'.")
    title: str = pydantic.Field(description="Caption shown above the table.")
    groups: tuple[ColumnGroup, ...] = pydantic.Field(min_length=1, description="Column groups in paper order.")
    overall: str | None = pydantic.Field(
        default=None, description="Label of a final column averaging every benchmark column, if the paper has one."
    )
    capability: str | None = pydantic.Field(default=None, description="The Table 2 capability this table measures.")
    rows: tuple[PaperRow, ...] = pydantic.Field(default=(), description="Published rows we could check.")

    @property
    def benchmarks(self) -> tuple[str, ...]:
        """Every benchmark column, group by group."""
        return tuple(name for group in self.groups for name in group.benchmarks)

    @pydantic.model_validator(mode="after")
    def check_row_columns(self) -> PaperTable:
        """Every published value belongs to a column of this table."""
        for row in self.rows:
            unknown = sorted(set(row.values) - set(self.benchmarks))
            if unknown:
                raise ValueError(f"row {row.model!r} has values for {unknown}, which are not columns of {self.id}")
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
        """Each capability is measured by exactly one table."""
        for capability in self.capabilities:
            count = sum(table.capability == capability.name for table in self.tables)
            if count != 1:
                raise ValueError(f"capability {capability.name!r} is measured by {count} tables, expected 1")
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
