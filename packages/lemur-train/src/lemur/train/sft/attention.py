"""``sdpa_varlen``: variable-length causal attention for padding-free rows, on any device torch runs on.

Padding-free rows carry ``cu_seq_lens_q`` (cumulative example lengths, as flash-attn's varlen
kernels take them). For such a row this attention runs PyTorch's scaled-dot-product attention
once per example with a plain causal mask, so no example attends to another and no work is
spent on the cross-example blocks that a dense block-diagonal mask would still compute. Rows
without ``cu_seq_lens_q`` (padded batches, generation) go to Transformers' own ``sdpa``, whose
mask handling this implementation shares.
"""

from __future__ import annotations

from typing import Any

NAME = "sdpa_varlen"


def sdpa_varlen_forward(
    module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0, **kwargs: Any
) -> tuple[Any, None]:
    """Attention output ``[batch, tokens, heads, head_dim]``: per example when ``cu_seq_lens_q`` is given.

    Args:
        query, key, value: ``[batch, heads, tokens, head_dim]`` (key/value may have fewer heads: GQA).
        attention_mask: Used only on the fallback path (no ``cu_seq_lens_q``).
        kwargs: ``cu_seq_lens_q`` (int tensor, ``[examples + 1]``), ``scaling``, and Transformers' others.
    """
    import torch
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    boundaries = kwargs.get("cu_seq_lens_q")
    if boundaries is None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    cuts = boundaries.tolist()
    outputs = [
        torch.nn.functional.scaled_dot_product_attention(
            query[:, :, start:end],
            key[:, :, start:end],
            value[:, :, start:end],
            dropout_p=dropout if module.training else 0.0,
            is_causal=True,
            scale=kwargs.get("scaling"),
        )
        for start, end in zip(cuts[:-1], cuts[1:], strict=True)
        if end > start
    ]
    return torch.cat(outputs, dim=2).transpose(1, 2).contiguous(), None


def register() -> None:
    """Make ``attn_implementation="sdpa_varlen"`` available to Transformers models (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, sdpa_varlen_forward)
    AttentionMaskInterface.register(NAME, sdpa_mask)
