"""Micro-batches as model inputs: padded rows, or padding-free rows with positions reset per example.

Both layouts carry ``labels`` already shifted (``labels[t]`` is the target predicted at ``t``,
``-100`` where nothing is trained: prompts, padding, and the last token of every example, so no
example predicts its neighbour's first token). Padding-free rows give no ``attention_mask``:
Transformers builds the block-diagonal causal mask from the position resets (and
``flash_attention_2`` runs them as variable-length sequences), so no example attends to another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lemur.train.sft.examples import Example

IGNORE_INDEX = -100


def shifted_labels(example: Example) -> np.ndarray:
    """``labels[t] = tokens[t + 1]`` where token ``t + 1`` is trained, else ``-100``; the last is ``-100``."""
    labels = np.full(len(example.tokens), IGNORE_INDEX, dtype=np.int64)
    labels[:-1] = np.where(example.loss_mask[1:], example.tokens[1:], IGNORE_INDEX)
    return labels


def collate_padded(examples: Sequence[Example], pad_id: int) -> dict[str, Any]:
    """One row per example, right-padded to the longest, with ``attention_mask`` 0 on padding.

    Returns:
        torch tensors ``input_ids``, ``attention_mask``, ``position_ids``, ``labels``, all ``[B, L]`` int64.
    """
    import torch

    width = max(len(e) for e in examples)
    input_ids = np.full((len(examples), width), pad_id, dtype=np.int64)
    labels = np.full((len(examples), width), IGNORE_INDEX, dtype=np.int64)
    attention = np.zeros((len(examples), width), dtype=np.int64)
    for row, example in enumerate(examples):
        input_ids[row, : len(example)] = example.tokens
        labels[row, : len(example)] = shifted_labels(example)
        attention[row, : len(example)] = 1
    positions = np.broadcast_to(np.arange(width, dtype=np.int64), input_ids.shape).copy()
    return {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(attention),
        "position_ids": torch.from_numpy(positions),
        "labels": torch.from_numpy(labels),
    }


def collate_padding_free(examples: Sequence[Example]) -> dict[str, Any]:
    """All examples concatenated into one row, ``position_ids`` restarting at 0 for each.

    Returns:
        torch tensors ``input_ids``, ``position_ids``, ``labels``, all ``[1, total tokens]`` int64, and
        flash-attn's varlen arguments ``cu_seq_lens_q/k`` (int32 example boundaries) and
        ``max_length_q/k`` (the longest example), which ``flash_attention_2`` and ``sdpa_varlen`` use.
    """
    import torch

    input_ids = np.concatenate([e.tokens for e in examples])[None]
    positions = np.concatenate([np.arange(len(e), dtype=np.int64) for e in examples])[None]
    labels = np.concatenate([shifted_labels(e) for e in examples])[None]
    boundaries = torch.from_numpy(np.cumsum([0] + [len(e) for e in examples]).astype(np.int32))
    longest = max(len(e) for e in examples)
    return {
        "input_ids": torch.from_numpy(input_ids.astype(np.int64)),
        "position_ids": torch.from_numpy(positions),
        "labels": torch.from_numpy(labels),
        "cu_seq_lens_q": boundaries,
        "cu_seq_lens_k": boundaries,
        "max_length_q": longest,
        "max_length_k": longest,
    }


def collate(examples: Sequence[Example], packing: str, pad_id: int) -> dict[str, Any]:
    """Dispatch to :func:`collate_padding_free` (``"padding-free"``) or :func:`collate_padded` (``"padded"``)."""
    if packing == "padding-free":
        return collate_padding_free(examples)
    return collate_padded(examples, pad_id)


def to_device(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    """The batch with its tensors moved to ``device`` (plain ints such as ``max_length_q`` stay as they are)."""
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}


def trained_tokens(examples: Sequence[Example]) -> int:
    """How many targets the examples carry (the loss's denominator)."""
    return int(sum(int(e.loss_mask[1:].sum()) for e in examples))
