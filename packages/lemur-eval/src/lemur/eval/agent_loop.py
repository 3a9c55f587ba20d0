"""The agent loop: one agent steps one gymnasium environment for up to ``k`` turns, every turn recorded.

Shared by all agent benchmarks. A turn is one ``agent.act`` followed by one ``env.step``; the
record of each turn (action, observation, reward) is what ``generations.jsonl`` stores, so
success-by-turn curves can be drawn afterwards. The episode ends when the environment
terminates or truncates (its own ``TimeLimit``), or after ``max_turns`` turns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from lemur.eval.agents.base import Agent


@dataclasses.dataclass(frozen=True)
class Turn:
    """One turn: what the agent did and what the environment answered."""

    turn: int  #: 1-based turn number
    action: str
    observation: str
    reward: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in ``generations.jsonl``."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Episode:
    """A finished episode.

    Attributes:
        turns: Every turn, in order.
        success: Whether some step reported ``info["success"]``.
        reward: The sum of the step rewards.
        success_turn: The first turn whose ``info["success"]`` was true, or ``None``.
        info: The ``info`` of the last step (or of ``reset`` when no turn was played).
    """

    turns: tuple[Turn, ...]
    success: bool
    reward: float
    success_turn: int | None
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_record(self, sample_id: str) -> dict[str, Any]:
        """The ``generations.jsonl`` line of this episode (see :mod:`lemur.eval.results`)."""
        return {
            "id": sample_id,
            "turns": [turn.to_dict() for turn in self.turns],
            "success": self.success,
            "reward": self.reward,
            "success_turn": self.success_turn,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Episode:
        """Rebuild an episode from its ``generations.jsonl`` line."""
        turns = tuple(Turn(**turn) for turn in record["turns"])
        return cls(turns, bool(record["success"]), float(record["reward"]), record.get("success_turn"))


def run_episode(
    env: Any,
    agent: Agent,
    max_turns: int,
    options: Mapping[str, Any] | None = None,
    seed: int | None = 0,
) -> Episode:
    """Play one episode of ``agent`` in ``env`` for at most ``max_turns`` turns.

    Args:
        env: A gymnasium environment with text observations and actions.
        agent: The policy; :meth:`Agent.reset` gets the first observation.
        max_turns: The most turns to play (the paper's ``k``), at least 1.
        options: ``env.reset`` options, usually ``{"task_id": ...}``.
        seed: ``env.reset`` seed.

    Returns:
        The recorded episode.

    Raises:
        ValueError: ``max_turns`` is below 1.
    """
    if max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, got {max_turns}")
    observation, info = env.reset(seed=seed, options=dict(options or {}))
    agent.reset(observation, info)
    turns: list[Turn] = []
    total = 0.0
    success_turn: int | None = None
    for number in range(1, max_turns + 1):
        action = agent.act(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        turns.append(Turn(number, action, str(observation), float(reward)))
        total += float(reward)
        if success_turn is None and info.get("success"):
            success_turn = number
        if terminated or truncated:
            break
    return Episode(tuple(turns), success_turn is not None, total, success_turn, dict(info))


def success_by_turn(success_turns: Sequence[int | None], max_turns: int) -> list[float]:
    """``result[k-1]`` = fraction of episodes solved within ``k`` turns, for ``k`` in 1..max_turns.

    Args:
        success_turns: Per episode, the first successful turn or ``None`` (unsolved).
        max_turns: The length of the curve.
    """
    if not success_turns:
        return [0.0] * max_turns
    counts = [0] * (max_turns + 1)
    for turn in success_turns:
        if turn is not None and 1 <= turn <= max_turns:
            counts[turn] += 1
    curve, solved = [], 0
    for k in range(1, max_turns + 1):
        solved += counts[k]
        curve.append(solved / len(success_turns))
    return curve
