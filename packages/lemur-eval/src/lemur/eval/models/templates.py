"""Named chat templates: how a list of chat messages becomes the prompt text a model continues.

- ``chatml``: the format Lemur-Chat was fine-tuned on. Each message is
  ``<|im_start|>{role}\\n{content}<|im_end|>\\n`` and the prompt ends with
  ``<|im_start|>assistant\\n`` so the model writes the assistant's turn.
- ``model``: the tokenizer's own chat template (``tokenizer.apply_chat_template``), with the
  generation prompt added.

A conversation that ends with an assistant message is a *prefill*: the model continues that
message (Lemur's evaluation scripts open the assistant turn with ``Answer:`` or ``A:``), so the
last turn is left open instead of being closed and followed by a new one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

from lemur.core.errors import LemurError
from lemur.eval.models.base import Message

CHATML_START = "<|im_start|>"
CHATML_END = "<|im_end|>"


class UnknownTemplateError(LemurError, LookupError):
    """A chat template name is not one of :data:`TEMPLATES`."""


class TemplateError(LemurError):
    """A template cannot be applied (e.g. the tokenizer has no chat template of its own)."""


def render_chatml(messages: Sequence[Message], tokenizer: Any = None) -> str:
    """Render ``messages`` in ChatML and open the assistant's turn.

    Args:
        messages: The conversation so far; contents are inserted verbatim.
        tokenizer: Unused; accepted so every template has the same signature.

    Returns:
        ``"<|im_start|>{role}\\n{content}<|im_end|>\\n"`` per message, then
        ``"<|im_start|>assistant\\n"``; a final assistant message is left open (a prefill).
    """
    prefill = ""
    if messages and messages[-1].role == "assistant":
        prefill, messages = messages[-1].content, messages[:-1]
    turns = "".join(f"{CHATML_START}{m.role}\n{m.content}{CHATML_END}\n" for m in messages)
    return f"{turns}{CHATML_START}assistant\n{prefill}"


def render_model(messages: Sequence[Message], tokenizer: Any = None) -> str:
    """Render ``messages`` with the tokenizer's own chat template, generation prompt added.

    Raises:
        TemplateError: No tokenizer was given, or it has no chat template.
    """
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", None) or "the tokenizer"
        raise TemplateError(f"chat template 'model': {name} has no chat template of its own; choose template=chatml")
    turns = [{"role": m.role, "content": m.content} for m in messages]
    if turns and turns[-1]["role"] == "assistant":
        return tokenizer.apply_chat_template(turns, tokenize=False, continue_final_message=True)
    return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)


#: Every named template; a template maps (messages, tokenizer) to prompt text.
TEMPLATES: dict[str, Callable[[Sequence[Message], Any], str]] = {
    "chatml": render_chatml,
    "model": render_model,
}


def get_template(name: str) -> Callable[[Sequence[Message], Any], str]:
    """The template called ``name``.

    Raises:
        UnknownTemplateError: No such template; the message suggests close names and lists all.
    """
    if name in TEMPLATES:
        return TEMPLATES[name]
    close = difflib.get_close_matches(name, TEMPLATES, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise UnknownTemplateError(f"unknown chat template {name!r}: {hint}available: {', '.join(sorted(TEMPLATES))}")
