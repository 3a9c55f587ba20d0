"""The benchmark contract: what is asked and how it is scored, never how a model is called.

A single-turn benchmark turns each :class:`Sample` into a :class:`GenerationRequest` and scores
the model's text. The runner owns batching, caching, resuming and concurrency.
"""

from __future__ import annotations

import abc
import dataclasses
import statistics
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from lemur.eval.models.base import GenerationRequest

Category = Literal["text", "code", "agent"]


@dataclasses.dataclass(frozen=True)
class BenchmarkSpec:
    """What a benchmark is and which setting of the paper it reproduces.

    Attributes:
        name: Registry name, lowercase with hyphens (``gsm8k``).
        version: Bumped on any change to prompt, extraction or scoring.
        category: ``text``, ``code`` or ``agent`` (the paper's groups).
        metric: The name of the headline number (``accuracy``, ``pass@1``, ``success_rate``).
        setting: The paper's setting, e.g. ``{"shots": 8, "chain_of_thought": True}``.
        description: One line for listings.
    """

    name: str
    version: str
    category: Category
    metric: str = "accuracy"
    setting: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Sample:
    """One item of a benchmark.

    Attributes:
        id: Unique within the benchmark and stable across versions of the data.
        inputs: What the prompt is built from.
        target: The reference answer (or tests) used by the scorer.
    """

    id: str
    inputs: Mapping[str, Any]
    target: Any = None


@dataclasses.dataclass(frozen=True)
class Score:
    """The score of one sample: ``value`` in [0, 1] plus what the scorer saw."""

    value: float
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class Benchmark(abc.ABC):
    """Base class of every benchmark.

    Args:
        data_dir: A local mirror of the benchmark's files; ``None`` means the project's
            download cache.
    """

    spec: ClassVar[BenchmarkSpec]

    def __init__(self, data_dir: str | Path | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else None

    @abc.abstractmethod
    def samples(self) -> Iterator[Sample]:
        """Yield the evaluation samples in a fixed order."""

    @abc.abstractmethod
    def request(self, sample: Sample) -> GenerationRequest:
        """The model request for ``sample`` (prompt, stop strings, token budget)."""

    @abc.abstractmethod
    def score(self, sample: Sample, output: str) -> Score:
        """Score the model's text for ``sample``."""

    def aggregate(self, scores: Sequence[Score]) -> dict[str, float]:
        """The benchmark's headline metric over ``scores``; the default is their mean."""
        return {self.spec.metric: statistics.fmean(s.value for s in scores) if scores else 0.0}
