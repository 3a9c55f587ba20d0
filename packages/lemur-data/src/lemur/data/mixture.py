"""Recipes (which sources, in what proportion, for how many epochs) and deterministic mixing.

A recipe is a YAML file validated into :class:`Recipe`. Pre-training recipes give each source a
``weight`` (percent of the mixture's tokens) and ``epochs`` (passes over the source the paper
used); SFT recipes give ``instances`` (conversations to draw). :func:`sample_mixture` turns
per-source packed rows into one mixture: every mixture row is drawn from source ``i`` with
probability ``weight_i / sum(weights)``, seeded, and within a source rows are taken in a seeded
permutation that is redrawn each epoch. Rows are fixed-length and nearly full, so row shares
are token shares. String options may use ``{stdlib}`` (this Python's standard library
directory) and ``{env:NAME}`` (an environment variable), so one recipe runs on any machine.
"""

from __future__ import annotations

import json
import os
import re
import sysconfig
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydantic

from lemur.core.config import ConfigModel, load_config
from lemur.core.errors import ConfigError, LemurError


class StepSpec(ConfigModel):
    """One data step of a recipe, built from the ``lemur_data_steps`` registry."""

    step: str = pydantic.Field(description="Registered data-step name (see `lemur plugins`), e.g. 'normalize'.")
    options: dict[str, Any] = pydantic.Field(default_factory=dict, description="Keyword arguments of the step.")


#: Table 1's columns, as keys of ``SourceSpec.paper``.
PaperFigure = Literal["instances", "rounds", "prompt_len", "completion_len"]


class SourceSpec(ConfigModel):
    """One source of a recipe."""

    name: str = pydantic.Field(
        description="Name of this part of the mixture, e.g. 'python'.", pattern=r"^[A-Za-z0-9_.+-]+$"
    )
    source: str = pydantic.Field(description="Registered data-source name, e.g. 'code-tree', 'jsonl', 'the-stack'.")
    options: dict[str, Any] = pydantic.Field(default_factory=dict, description="Keyword arguments of the source.")
    group: str = pydantic.Field(default="", description="Grouping for reports, e.g. 'code' or 'text'.")
    weight: float | None = pydantic.Field(default=None, ge=0, description="Percent of the mixture's tokens.")
    epochs: float | None = pydantic.Field(default=None, gt=0, description="Passes over the source (paper value).")
    instances: int | None = pydantic.Field(
        default=None, ge=1, description="SFT: conversations to draw from the source."
    )
    steps: list[StepSpec] = pydantic.Field(
        default_factory=list, description="Steps for this source only, after the recipe's."
    )
    paper: dict[PaperFigure, float] = pydantic.Field(
        default_factory=dict,
        description="SFT: the paper's published Table 1 figures for this source, printed by `lemur data stats` "
        "under the measured ones.",
    )


class Recipe(ConfigModel):
    """A data recipe: sources, steps, tokenizer, packing, and the mixture's size."""

    name: str = pydantic.Field(description="Recipe name.")
    description: str = pydantic.Field(default="", description="What the recipe reproduces, with its reference.")
    seed: int = pydantic.Field(default=0, description="Seed of every random choice (sampling, shuffling).")
    tokenizer: str = pydantic.Field(
        default="llama-2", description="'llama-2', a tokenizer.json path or a local HF name."
    )
    seq_len: int = pydantic.Field(default=4096, ge=8, description="Packed row length in tokens.")
    window: int = pydantic.Field(default=10_000, ge=1, description="Chunks per best-fit-decreasing window.")
    tasks_per_source: int = pydantic.Field(default=1, ge=1, description="Shards each source is split into.")
    total_tokens: int | None = pydantic.Field(default=None, ge=1, description="Mixture size in tokens (pre-training).")
    steps: list[StepSpec] = pydantic.Field(default_factory=list, description="Steps applied to every source, in order.")
    sources: list[SourceSpec] = pydantic.Field(min_length=1, description="The parts of the mixture.")

    @pydantic.model_validator(mode="after")
    def _check(self) -> Recipe:
        names = [s.name for s in self.sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        weighted = [s.weight is not None for s in self.sources]
        if any(weighted) and not all(weighted):
            missing = [s.name for s in self.sources if s.weight is None]
            raise ValueError(f"either every source has a weight or none does; missing: {', '.join(missing)}")
        if all(weighted) and sum(s.weight or 0 for s in self.sources) <= 0:
            raise ValueError("the weights add up to 0")
        return self

    def weights(self) -> dict[str, float]:
        """Normalised token shares per source (empty when the recipe has no weights)."""
        if self.sources[0].weight is None:
            return {}
        total = sum(s.weight or 0.0 for s in self.sources)
        return {s.name: (s.weight or 0.0) / total for s in self.sources}


_PLACEHOLDER = re.compile(r"\{(stdlib|env:[A-Za-z_][A-Za-z0-9_]*)\}")


def expand(value: Any) -> Any:
    """Replace ``{stdlib}`` and ``{env:NAME}`` in strings, recursively through lists and dicts.

    Raises:
        ConfigError: ``{env:NAME}`` names an unset variable.
    """
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            key = match.group(1)
            if key == "stdlib":
                return sysconfig.get_paths()["stdlib"]
            name = key[4:]
            if name not in os.environ:
                raise ConfigError(f"recipe option {value!r}: environment variable {name} is not set")
            return os.environ[name]

        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, list):
        return [expand(v) for v in value]
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    return value


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe YAML file.

    Raises:
        ConfigError: One line naming the file, the field and what is allowed.
    """
    return load_config(path, Recipe)


def sample_mixture(
    rows_per_source: dict[str, int], weights: dict[str, float], total_rows: int, seed: int
) -> np.ndarray:
    """Draw ``total_rows`` mixture rows as ``[total_rows, 2]`` int64 (source index, row in that source).

    Source ``i`` is chosen with probability ``weights[i]`` independently per row (seeded), and the
    k-th draw from a source takes row ``perm_e[k mod R]`` with ``e = k div R`` and ``perm_e`` a
    permutation seeded by ``(seed, i, e)``, so every row is used once per epoch.

    Raises:
        LemurError: A source with positive weight has no rows, or ``total_rows`` is below 1.
    """
    names = list(weights)
    if total_rows < 1:
        raise LemurError(f"mixture: total rows must be at least 1, got {total_rows}")
    empty = [n for n in names if weights[n] > 0 and rows_per_source.get(n, 0) == 0]
    if empty:
        raise LemurError(f"mixture: sources with weight but no data: {', '.join(empty)}")
    probabilities = np.array([weights[n] for n in names], dtype=np.float64)
    rng = np.random.default_rng([seed, 0])
    choice = rng.choice(len(names), size=total_rows, p=probabilities / probabilities.sum())
    rows = np.zeros(total_rows, dtype=np.int64)
    for index, name in enumerate(names):
        where = np.flatnonzero(choice == index)
        if not len(where):
            continue
        available = rows_per_source[name]
        draws = np.arange(len(where))
        epochs, offsets = np.divmod(draws, available)
        for epoch in np.unique(epochs).tolist():
            permutation = np.random.default_rng([seed, index + 1, epoch]).permutation(available)
            in_epoch = epochs == epoch
            rows[where[in_epoch]] = permutation[offsets[in_epoch]]
    return np.stack([choice.astype(np.int64), rows], axis=1)


class MixtureDataset:
    """The rows of a built mixture (``<out>/mixture``), read through the per-source shards.

    Offers the same reading interface as :class:`lemur.data.shards.PackedDataset`: ``len``,
    indexing, :meth:`iter_rows` (the mixture order is already shuffled; ``seed`` reshuffles per
    epoch). Raises LemurError when the mixture or a source's shards are missing.
    """

    def __init__(self, out: str | Path):
        from lemur.data.shards import PackedDataset

        self.root = Path(out)
        index_path = self.root / "mixture" / "index.json"
        if not index_path.is_file():
            raise LemurError(f"{self.root}: no built mixture (mixture/index.json); run `lemur data build` first")
        self.index = json.loads(index_path.read_text(encoding="utf-8"))
        self.sources = list(self.index["sources"])
        self.datasets = [PackedDataset(self.root / "sources" / name) for name in self.sources]
        self.rows = np.fromfile(self.root / "mixture" / "rows.bin", dtype="<i8").reshape(-1, 2)
        self.seq_len = self.datasets[0].seq_len

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, row: int) -> dict[str, np.ndarray]:
        """Row ``row`` of the mixture (see :meth:`PackedDataset.__getitem__`)."""
        source, local = self.rows[row]
        return self.datasets[int(source)][int(local)]

    def order(self, seed: int, epoch: int = 0) -> np.ndarray:
        """Row order of ``epoch``: the sampled mixture order first, then seeded reshuffles."""
        if epoch == 0:
            return np.arange(len(self))
        return np.random.default_rng([seed, epoch]).permutation(len(self))

    def iter_rows(self, seed: int, start: int = 0):
        """Yield ``(position, row)`` forever in :meth:`order`, starting at global position ``start``."""
        position = start
        while True:
            epoch, offset = divmod(position, len(self))
            order = self.order(seed, epoch)
            for index in range(offset, len(self)):
                yield position, self[int(order[index])]
                position += 1


def open_dataset(path: str | Path) -> Any:
    """The rows under ``path``: a :class:`MixtureDataset` for a weighted build, else a ``PackedDataset``.

    Raises:
        LemurError: Nothing packed is there (one that holds only a ``--format conversations`` build says so).
    """
    from lemur.data.shards import PackedDataset

    path = Path(path)
    if (path / "mixture" / "index.json").is_file():
        return MixtureDataset(path)
    if (path / "conversations.jsonl").is_file() and not any(path.rglob("index.json")):
        raise LemurError(
            f"{path} holds conversations (`lemur data build --format conversations`), not packed shards: "
            f"use {path / 'conversations.jsonl'}, or build packed shards (the default --format)"
        )
    return PackedDataset(path)
