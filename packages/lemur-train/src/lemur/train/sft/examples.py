"""Training examples: token ids plus a loss mask, from JSONL conversations or ``lemur data build`` shards.

An :class:`Example`'s ``loss_mask[t]`` says whether token ``t`` is a training target (predicted
from the tokens before it), the same convention as lemur-data's packed shards. Conversations are
rendered by a :class:`~lemur.train.sft.templates.ChatTemplate` and tokenized as one string with
character offsets, so the ids are exactly what ``tokenizer(apply_chat_template(...))`` gives and
the mask follows the template's trained character spans.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from lemur.core.errors import LemurError
from lemur.train.sft.templates import ChatTemplate, Messages


@dataclasses.dataclass(frozen=True)
class Example:
    """One training sequence.

    Attributes:
        tokens: int64 token ids.
        loss_mask: bool, True where the token is a training target.
    """

    tokens: np.ndarray
    loss_mask: np.ndarray

    def __len__(self) -> int:
        return len(self.tokens)


def encode_conversation(tokenizer: Any, template: ChatTemplate, messages: Messages, max_length: int) -> Example:
    """Render ``messages`` with ``template`` after the tokenizer's BOS text, and tokenize that one string.

    The ids equal ``tokenizer.apply_chat_template(messages)`` with the template's Jinja twin. A
    token is trained when it starts inside one of the template's trained character spans. The
    example is cut to its first ``max_length`` tokens.
    """
    rendered, spans = template.render(messages)
    bos = tokenizer.bos_token or ""
    text = bos + rendered
    spans = [(start + len(bos), end + len(bos)) for start, end in spans]
    encoded = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    tokens = np.asarray(encoded["input_ids"], dtype=np.int64)
    starts = np.array([start if end > start else -1 for start, end in encoded["offset_mapping"]], dtype=np.int64)
    mask = np.zeros(len(tokens), dtype=bool)
    for start, end in spans:
        mask |= (starts >= start) & (starts < end)
    return Example(tokens[:max_length], mask[:max_length])


def _read_conversations(path: Path) -> list[list[dict[str, str]]]:
    conversations = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                messages = record["messages"]
                if not all(isinstance(m["role"], str) and isinstance(m["content"], str) for m in messages):
                    raise TypeError("role and content must be strings")
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise LemurError(
                    f"{path}:{number}: not a conversation ({error}); expected "
                    '{"messages": [{"role": ..., "content": ...}, ...]}'
                ) from None
            conversations.append(messages)
    return conversations


def shard_examples(path: Path, max_length: int) -> list[Example]:
    """Every segment of every packed row under ``path`` (a ``lemur data build`` output) as an example."""
    from lemur.data.mixture import open_dataset

    dataset = open_dataset(path)
    examples = []
    for index in range(len(dataset)):
        row = dataset[index]
        segments = row["segment_ids"]
        for segment in np.unique(segments[segments > 0]).tolist():
            where = segments == segment
            tokens = row["tokens"][where].astype(np.int64)[:max_length]
            examples.append(Example(tokens, row["loss_mask"][where].astype(bool)[:max_length]))
    return examples


def _check_markers(path: Path, examples: list[Example], tokenizer: Any, template: ChatTemplate) -> None:
    """Refuse shards whose conversations spell the template's markers as text instead of its special tokens.

    Training on those and serving with the exported template (which uses the special tokens)
    would give the model a format it never saw.
    """
    if not template.special_tokens:
        return
    marker = tokenizer.convert_tokens_to_ids(template.special_tokens[0])
    if not any((e.tokens == marker).any() for e in examples):
        raise LemurError(
            f"SFT data {path}: no {template.special_tokens[0]} token (id {marker}) in any example, so the "
            f"shards were not tokenized with the '{template.name}' special tokens; train from a conversations "
            ".jsonl (tokenized here with the template) or rebuild the shards with those tokens"
        )


def load_examples(
    path: str | Path, tokenizer: Any, template: ChatTemplate, max_length: int, limit: int | None = None
) -> list[Example]:
    """Examples from a JSONL conversation file or a directory of packed shards, in file order.

    Examples with no trained token are dropped (they carry no signal).

    Raises:
        LemurError: The path does not exist, a JSONL line is not a conversation, shards lack the
            template's special tokens, or no example is left.
    """
    path = Path(path)
    if not path.exists():
        raise LemurError(f"SFT data {path} does not exist; give a conversations .jsonl or a `lemur data build` output")
    if path.is_dir():
        examples = shard_examples(path, max_length)
        _check_markers(path, examples, tokenizer, template)
    else:
        conversations = _read_conversations(path)
        if limit is not None:
            conversations = conversations[:limit]
        examples = [encode_conversation(tokenizer, template, m, max_length) for m in conversations]
    examples = [e for e in examples if e.loss_mask[1:].any()]
    if limit is not None:
        examples = examples[:limit]
    if not examples:
        raise LemurError(f"SFT data {path}: no example with a trained token")
    return examples
