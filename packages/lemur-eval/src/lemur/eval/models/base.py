"""The model-backend contract: lists of requests in, lists of results out, same length and order.

A backend decides how to batch and parallelise; the runner decides what to cache and resume.
Greedy decoding (``temperature=0``) is the default everywhere.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclasses.dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """What to generate from: chat ``messages`` or a raw ``prompt`` (exactly one of them).

    Attributes:
        messages: Chat turns; the backend applies its chat template.
        prompt: Raw text continued as is (no template).
        stop: Generation ends before the first occurrence of any of these strings; the
            returned text does not include it.
        max_tokens: Upper bound on generated tokens.
        temperature: 0 means greedy decoding.
    """

    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    stop: tuple[str, ...] = ()
    max_tokens: int = 512
    temperature: float = 0.0

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a GenerationRequest needs exactly one of `messages` and `prompt`")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, canonical for cache keys."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        """Rebuild a request from :meth:`to_dict`'s form (lists accepted for tuples).

        Raises:
            TypeError: An unknown key, or a message that is not ``{"role", "content"}``.
            ValueError: Neither or both of ``messages`` and ``prompt``.
        """
        fields = dict(data)
        messages = fields.get("messages")
        if messages is not None:
            fields["messages"] = tuple(Message(**message) for message in messages)
        if "stop" in fields:
            fields["stop"] = tuple(fields["stop"])
        return cls(**fields)


@dataclasses.dataclass(frozen=True)
class LoglikelihoodRequest:
    """Score ``continuation`` given ``context``.

    The word-boundary space belongs to the continuation (``context="2 + 2 ="``,
    ``continuation=" 4"``); an empty context means the continuation is scored from the start
    of the sequence.
    """

    context: str
    continuation: str


@dataclasses.dataclass(frozen=True)
class Generation:
    """What a backend generated for one request."""

    text: str
    finish_reason: str = "stop"  #: "stop" (EOS or a stop string) or "length" (hit ``max_tokens``)
    #: Tokens the model generated, those of a stop string or EOS included, where the backend
    #: counts them (``hf``); None otherwise (and for cached answers). Not part of equality.
    tokens: int | None = dataclasses.field(default=None, compare=False)


class ModelBackend(abc.ABC):
    """A model to evaluate.

    Subclasses implement :meth:`generate` and, where the model exposes token
    probabilities, :meth:`loglikelihood`.
    """

    #: The registry name of the backend (``openai``, ``hf``, ``replay``); part of cache keys.
    name: str = ""

    @property
    @abc.abstractmethod
    def identity(self) -> dict[str, Any]:
        """What makes this backend's answers what they are (model, revision, template); hashed into cache keys."""

    @abc.abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one completion per request, in order."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[float]:
        """Return the log-probability (natural log) of each continuation given its context, in order.

        Raises:
            NotImplementedError: The backend cannot score text (e.g. a chat-only API).
        """
        raise NotImplementedError(f"the '{self.name}' model backend cannot compute log-likelihoods")

    def truncated_tokens(self, requests: Sequence[GenerationRequest | LoglikelihoodRequest]) -> list[int] | None:
        """How many tokens the backend would cut from the front of each request's prompt to fit its context.

        The runner records the counts per item and warns, so a cut is never silent. The
        default, ``None``, means the backend cannot tell (a remote server, recordings).
        """
        return None

    def close(self) -> None:
        """Release connections, processes or GPU memory; the default does nothing."""
        return None
