"""The generic LLM agent: a model backend, a prompt format and a history window.

Each turn the agent sends the model a chat: the system prompt, the episode's first
observation (the task), the last ``history_window`` exchanges (its own reply, then the
environment's answer) and the newest observation; the action is the reply (or the part of it
that :attr:`PromptFormat.action_pattern` picks). Environment-specific prompt formats are
:class:`PromptFormat` values that benchmarks pass as ``agent_options``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from lemur.eval.agents.base import Agent
from lemur.eval.models.base import GenerationRequest, Message, ModelBackend


@dataclasses.dataclass(frozen=True)
class PromptFormat:
    """How an environment talks to a chat model.

    Attributes:
        system: The system prompt (empty: no system message).
        first_observation: Template of the first user message; ``{observation}`` is replaced.
        observation: Template of later user messages; ``{observation}`` is replaced.
        action_pattern: A regex searched in the reply; its first group (or whole match) is
            the action. ``None``: the stripped reply is the action. No match: the stripped
            reply is the action (the environment judges it).
        stop: Stop strings for generation.
        max_tokens: Token budget per reply.
    """

    system: str = "You are an agent in a text environment. Reply with your next action only."
    first_observation: str = "{observation}"
    observation: str = "{observation}"
    action_pattern: str | None = None
    stop: tuple[str, ...] = ()
    max_tokens: int = 256


class LLMAgent(Agent):
    """Acts by asking a model backend, one greedy chat request per turn.

    Args:
        backend: The model to ask.
        prompt_format: A :class:`PromptFormat` or a mapping of its fields.
        history_window: How many past exchanges (reply + answer) to keep besides the first
            observation; ``None`` keeps all, ``0`` keeps none.

    Raises:
        ValueError: ``history_window`` is negative, or ``action_pattern`` is not a regex.
    """

    def __init__(
        self,
        backend: ModelBackend,
        prompt_format: PromptFormat | Mapping[str, Any] | None = None,
        history_window: int | None = None,
    ) -> None:
        if history_window is not None and history_window < 0:
            raise ValueError(f"history_window must be >= 0 or None, got {history_window}")
        if isinstance(prompt_format, Mapping):
            fields = dict(prompt_format)
            if "stop" in fields:
                fields["stop"] = tuple(fields["stop"])
            prompt_format = PromptFormat(**fields)
        self.backend = backend
        self.format = prompt_format or PromptFormat()
        self.history_window = history_window
        self._pattern = re.compile(self.format.action_pattern) if self.format.action_pattern else None
        self._first: Message | None = None
        self._exchanges: list[tuple[Message, Message]] = []
        self._last_reply: str | None = None

    def reset(self, observation: str, info: Mapping[str, Any]) -> None:
        """Forget the last episode; ``observation`` becomes the first user message."""
        self._first = Message("user", self.format.first_observation.format(observation=observation))
        self._exchanges = []
        self._last_reply = None

    def messages(self, observation: str) -> tuple[Message, ...]:
        """The chat for the next turn, given the newest observation (records the last exchange)."""
        if self._first is None:
            raise RuntimeError("LLMAgent.act() called before reset()")
        if self._last_reply is not None:
            answer = Message("user", self.format.observation.format(observation=observation))
            self._exchanges.append((Message("assistant", self._last_reply), answer))
        if self.history_window is None:
            kept = self._exchanges
        else:
            kept = self._exchanges[len(self._exchanges) - self.history_window :] if self.history_window else []
        chat = [Message("system", self.format.system)] if self.format.system else []
        chat.append(self._first)
        for reply, answer in kept:
            chat += [reply, answer]
        if self._exchanges and not kept:
            chat.append(self._exchanges[-1][1])  # the newest observation is always shown
        return tuple(chat)

    def act(self, observation: str, info: Mapping[str, Any]) -> str:
        """Ask the model for the next action."""
        request = GenerationRequest(
            messages=self.messages(observation), stop=self.format.stop, max_tokens=self.format.max_tokens
        )
        reply = self.backend.generate([request])[0].text
        self._last_reply = reply
        return self.parse_action(reply)

    def parse_action(self, reply: str) -> str:
        """The action in ``reply`` (see :attr:`PromptFormat.action_pattern`)."""
        if self._pattern is not None:
            match = self._pattern.search(reply)
            if match:
                return (match.group(1) if match.groups() else match.group(0)).strip()
        return reply.strip()

    def describe(self) -> dict[str, Any]:
        """The prompt format and history window, for ``prompt_hash``."""
        return {"agent": "llm", "format": dataclasses.asdict(self.format), "history_window": self.history_window}
