"""The conversation record: a :class:`~lemur.data.records.Document` whose metadata holds messages.

A conversation is ``Document(id, text, metadata)`` with

- ``metadata["messages"]``: ``[{"role": "system" | "user" | "assistant", "content": str}, ...]``,
  optionally one leading system message, then user and assistant alternating, starting with
  user and ending with assistant;
- ``metadata["source"]``: the instruction set (``oasst1``, ``openorca``, ``sharegpt``, ...);
- ``text``: the messages rendered by :func:`render` (``"<role>: <content>"`` blocks), so
  text-level steps (language filters, dedup) see the whole conversation.

A round is one user message with the assistant reply that follows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lemur.data.records import Document

ROLES = ("system", "user", "assistant")


def render(messages: Iterable[Mapping[str, str]]) -> str:
    """The text of a conversation: one ``"<role>: <content>"`` block per message, blank-line separated."""
    return "\n\n".join(f"{message['role']}: {message['content']}" for message in messages)


def make_conversation(doc_id: str, messages: list[dict[str, str]], **metadata: Any) -> Document:
    """A conversation record with ``metadata["messages"]`` and the rendered ``text``."""
    return Document(doc_id, render(messages), {**metadata, "messages": messages})


def rounds(messages: Iterable[Mapping[str, str]]) -> int:
    """How many rounds (user message answered by an assistant message) the conversation has."""
    count, previous = 0, None
    for message in messages:
        if message["role"] == "assistant" and previous == "user":
            count += 1
        previous = message["role"]
    return count


def tidy(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Messages cut to the conversation shape: merge same-role runs, drop leading assistant and trailing user turns.

    Returns:
        The tidied messages; empty when no round is left.
    """
    merged: list[dict[str, str]] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1] = {"role": message["role"], "content": merged[-1]["content"] + "\n\n" + message["content"]}
        else:
            merged.append(dict(message))
    system = [m for m in merged[:1] if m["role"] == "system"]
    body = [m for m in merged[len(system) :] if m["role"] != "system"]
    while body and body[0]["role"] != "user":
        body.pop(0)
    while body and body[-1]["role"] != "assistant":
        body.pop()
    return system + body if body else []
