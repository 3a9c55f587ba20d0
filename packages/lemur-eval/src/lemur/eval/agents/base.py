"""The agent contract: one action (a string) per observation, with its own memory of the episode."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any


class Agent(abc.ABC):
    """A policy for a text environment.

    The agent loop calls :meth:`reset` with the first observation of an episode, then
    :meth:`act` once per turn with the latest observation.
    """

    @abc.abstractmethod
    def reset(self, observation: str, info: Mapping[str, Any]) -> None:
        """Start a new episode whose first observation is ``observation``."""

    @abc.abstractmethod
    def act(self, observation: str, info: Mapping[str, Any]) -> str:
        """Return the next action given the latest observation."""

    def describe(self) -> dict[str, Any]:
        """What decides this agent's behaviour besides the model (prompt format, window); hashed into ``prompt_hash``.

        The default names the class; agents with a prompt format should return it.
        """
        return {"agent": f"{type(self).__module__}.{type(self).__qualname__}"}
