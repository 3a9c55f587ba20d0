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

from lemur.eval.models.base import GenerationRequest, LoglikelihoodRequest

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
    def request(self, sample: Sample) -> GenerationRequest | list[LoglikelihoodRequest]:
        """The model request(s) for ``sample``: one generation, or log-likelihood requests scored together."""

    @abc.abstractmethod
    def score(self, sample: Sample, output: str | list[float]) -> Score:
        """Score ``sample`` from the model's text, or from the log-likelihoods of its requests (in order)."""

    def aggregate(self, scores: Sequence[Score]) -> dict[str, float]:
        """The benchmark's headline metric over ``scores``; the default is their mean."""
        return {self.spec.metric: statistics.fmean(s.value for s in scores) if scores else 0.0}


class AgentBenchmark(Benchmark):
    """Base class of multi-turn benchmarks: an agent steps a gymnasium environment per sample.

    The runner builds the environment with :meth:`make_env`, the agent with
    :meth:`make_agent`, and lets :func:`lemur.eval.agent_loop.run_episode` play up to
    :attr:`max_turns` turns from ``env.reset(seed=..., options=reset_options(sample))``. An
    episode is solved when a step's ``info["success"]`` is true; :meth:`score_episode` turns
    the episode into a :class:`Score` (by default 1.0 when solved).

    Attributes:
        env_id: The gymnasium id of the environment (``lemur/InterCode-Bash-v0``).
        agent: The registry name of the agent (``lemur plugins --kind agent``); ``llm`` is the
            generic model-driven agent.
        agent_options: Keyword arguments for the agent (prompt format, history window).
        max_turns: The paper's turn limit ``k``.
        env_kwargs: Keyword arguments for ``gymnasium.make``.
    """

    env_id: ClassVar[str]
    agent: ClassVar[str] = "llm"
    agent_options: ClassVar[Mapping[str, Any]] = {}
    max_turns: ClassVar[int] = 5
    env_kwargs: ClassVar[Mapping[str, Any]] = {}

    def request(self, sample: Sample) -> GenerationRequest:
        """Not used: the agent builds its own requests, one per turn."""
        raise NotImplementedError(f"{self.spec.name} is an agent benchmark; its agent builds the requests")

    def score(self, sample: Sample, output: str) -> Score:
        """Not used: see :meth:`score_episode`."""
        raise NotImplementedError(f"{self.spec.name} is an agent benchmark; episodes are scored by score_episode")

    def reset_options(self, sample: Sample) -> dict[str, Any]:
        """The ``options`` for ``env.reset`` that select ``sample``'s task; default ``{"task_id": sample.id}``."""
        return {"task_id": sample.id}

    def make_env(self) -> Any:
        """A fresh environment (``gymnasium.make(env_id, **env_kwargs)`` after registering every plugin's)."""
        import gymnasium

        from lemur.core.plugins import get_plugin_manager
        from lemur.envs.registration import register_envs

        register_envs(get_plugin_manager())  # idempotent; covers managers built after `import lemur.envs`
        return gymnasium.make(self.env_id, **dict(self.env_kwargs))

    def make_agent(self, backend: Any) -> Any:
        """A fresh agent for one episode, driven by ``backend`` when its constructor takes one.

        Raises:
            UnknownComponentError: No agent is registered under :attr:`agent`.
        """
        import inspect

        from lemur.core.components import Kind
        from lemur.core.plugins import components

        agent_cls = components(Kind.AGENT).load(self.agent)
        options = dict(self.agent_options)
        if "backend" in inspect.signature(agent_cls).parameters:
            options["backend"] = backend
        return agent_cls(**options)

    def score_episode(self, sample: Sample, episode: Any) -> Score:
        """Score a finished :class:`~lemur.eval.agent_loop.Episode`; default 1.0 if solved, else 0.0."""
        return Score(float(episode.success), {"turns": len(episode.turns), "reward": episode.reward})
