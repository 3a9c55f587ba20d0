"""The data-step contract: a generator from records to records, deterministic given a seed.

A pipeline is a plain list of steps; an executor (local processes or Ray) feeds each shard
of the input through them in order. Steps count what they do in :attr:`PipelineStep.stats`,
which executors save per shard.
"""

from __future__ import annotations

import abc
import collections
import importlib.util
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from lemur.core.errors import MissingDependencyError


class PipelineStep(abc.ABC):
    """One step of a data pipeline.

    Subclasses set :attr:`name`, list optional packages in :attr:`requires` (checked when the
    step is built, so a missing package fails before any work starts) and implement
    :meth:`run`.
    """

    #: Registry and log name of the step.
    name: ClassVar[str] = ""
    #: Optional packages as ``(module, pip requirement)`` pairs, e.g. ``("faiss", "lemur-data[semantic]")``.
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> PipelineStep:
        for module, requirement in cls.requires:
            if importlib.util.find_spec(module) is None:
                raise MissingDependencyError(f"the data step '{cls.name}'", module, requirement)
        return super().__new__(cls)

    def __init__(self) -> None:
        self.stats: collections.Counter[str] = collections.Counter()

    @abc.abstractmethod
    def run(self, records: Iterable[Any], rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        """Yield the output records for ``records``, the input of shard ``rank`` of ``world_size``."""

    def __call__(self, records: Iterable[Any], rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        return self.run(records, rank, world_size)


class Filter(PipelineStep):
    """A step that keeps or drops each record; the base class counts ``kept``, ``dropped`` and ``dropped_<reason>``."""

    @abc.abstractmethod
    def keep(self, record: Any) -> bool | tuple[bool, str]:
        """Whether to keep ``record``; return ``(False, reason)`` to count the reason."""

    def run(self, records: Iterable[Any], rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        for record in records:
            verdict = self.keep(record)
            kept, reason = verdict if isinstance(verdict, tuple) else (verdict, "")
            if kept:
                self.stats["kept"] += 1
                yield record
            else:
                self.stats["dropped"] += 1
                if reason:
                    self.stats[f"dropped_{reason}"] += 1


class DedupStep(PipelineStep):
    """A deduplication step that ``lemur data build`` can run over every shard at once.

    :meth:`run` deduplicates what it is given (one shard). For a sharded build the work is
    split: :meth:`keys` turns each shard's texts into one fixed-width row per document
    (digests, MinHash signatures, embeddings), and :meth:`duplicate_rows` decides from the rows
    of all shards together, in their global order, which documents go (every duplicate group
    keeps its first member). Only the rows cross shard boundaries.
    """

    #: The ``dropped_<reason>`` counter of a dropped document.
    drop_reason: ClassVar[str] = "duplicate"

    @abc.abstractmethod
    def keys(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text (a 2-D array), comparable across shards and runs with the same options."""

    @abc.abstractmethod
    def duplicate_rows(self, keys: np.ndarray) -> np.ndarray:
        """Sorted indices of the rows of ``keys`` (all documents, in global order) to drop."""
