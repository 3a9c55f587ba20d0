"""Chat templates: how a conversation becomes text, which characters are trained on, and the Jinja twin.

A :class:`ChatTemplate` renders messages into one string plus the character spans that carry
loss, and carries the equivalent Jinja template that export embeds in the tokenizer, so
``tokenizer.apply_chat_template`` renders exactly what training saw. ``chatml`` (Lemur-Chat's
format) is built in; any other template is given as ``"module:attr"`` naming a ChatTemplate.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping, Sequence

from lemur.core.errors import ConfigError

CHATML_START, CHATML_END = "<|im_start|>", "<|im_end|>"

Messages = Sequence[Mapping[str, str]]


@dataclasses.dataclass(frozen=True)
class ChatTemplate:
    """A named chat format.

    Attributes:
        name: Template name.
        special_tokens: Marker strings added to the vocabulary as single special tokens.
        stop_token: The token that ends an assistant turn (generation stops there).
        render: ``messages -> (text, trained spans)``; spans are ``(start, end)`` character offsets.
            The text excludes the tokenizer's BOS, which training puts in front.
        jinja: The same rendering as a Transformers chat template, BOS text first (so
            ``apply_chat_template(..., tokenize=True)`` gives the training ids);
            ``add_generation_prompt`` opens an assistant turn.
    """

    name: str
    special_tokens: tuple[str, ...]
    stop_token: str
    render: Callable[[Messages], tuple[str, list[tuple[int, int]]]]
    jinja: str


def render_chatml(messages: Messages) -> tuple[str, list[tuple[int, int]]]:
    """``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message; assistant content and its ``<|im_end|>`` trained."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    for message in messages:
        header = f"{CHATML_START}{message['role']}\n"
        body = f"{message['content']}{CHATML_END}"
        if message["role"] == "assistant":
            spans.append((length + len(header), length + len(header) + len(body)))
        parts += [header, body, "\n"]
        length += len(header) + len(body) + 1
    return "".join(parts), spans


CHATML_JINJA = (
    "{{ bos_token if bos_token else '' }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

CHATML = ChatTemplate("chatml", (CHATML_START, CHATML_END), CHATML_END, render_chatml, CHATML_JINJA)

#: Built-in templates by name.
TEMPLATES: dict[str, ChatTemplate] = {"chatml": CHATML}


def get_chat_template(name: str) -> ChatTemplate:
    """The template called ``name``, or the :class:`ChatTemplate` at ``"module:attr"``.

    Raises:
        ConfigError: Unknown name, or ``module:attr`` does not import to a ChatTemplate.
    """
    if name in TEMPLATES:
        return TEMPLATES[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            template = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as error:
            raise ConfigError(f"chat template {name!r}: cannot import it ({error})") from None
        if isinstance(template, ChatTemplate):
            return template
        raise ConfigError(f"chat template {name!r}: is a {type(template).__name__}, not a ChatTemplate")
    raise ConfigError(f"unknown chat template {name!r}; available: {', '.join(sorted(TEMPLATES))} or 'module:attr'")
