"""Llama-2 architecture configs, from a 2-layer ``debug`` preset to the 70B model.

The presets follow the published Llama-2 configs (``config.json`` of the Hugging Face
checkpoints); ``debug`` drives the CPU tests and ``100m``/``1b`` the throughput benchmark.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lemur.core.errors import ConfigError

REMAT_POLICIES = ("none", "full", "minimal", "save_dot_except_mlp", "save_qkv_proj")
"""Named rematerialisation policies (what the backward pass may keep instead of recomputing).

``none`` keeps every activation; ``full`` keeps only each layer's input; ``minimal`` keeps
every matmul output that has no batch dimension in its contraction (``dots_with_no_batch_dims_saveable``);
``save_dot_except_mlp`` keeps the attention projections but recomputes the MLP;
``save_qkv_proj`` keeps only the q/k/v projections.
"""


@dataclasses.dataclass(frozen=True)
class LlamaConfig:
    """The shape of a Llama-2 model and how it is computed.

    Attributes:
        vocab_size: Number of token ids.
        hidden_size: Width of the residual stream (``embed``).
        intermediate_size: Width of the SwiGLU MLP.
        num_layers: Decoder layers.
        num_heads: Query heads.
        num_kv_heads: Key/value heads (grouped-query attention when fewer than ``num_heads``).
        max_position_embeddings: Longest sequence the rotary table is meant for, in tokens.
        rms_norm_eps: Epsilon inside RMSNorm.
        rope_theta: Rotary base.
        tie_word_embeddings: Whether the output layer reuses the embedding (False for Llama-2).
        initializer_range: Standard deviation of the normal initialiser.
        dtype: Compute dtype (``bfloat16`` for training, ``float32`` for exact tests).
        param_dtype: Dtype of the master weights (``float32``).
        remat_policy: One of :data:`REMAT_POLICIES`.
        attention: ``auto`` (cuDNN fused attention on a GPU with bf16/fp16 compute, XLA
            elsewhere), ``xla`` or ``cudnn``.
    """

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_layers: int = 32
    num_heads: int = 32
    num_kv_heads: int = 32
    max_position_embeddings: int = 4096
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = False
    initializer_range: float = 0.02
    dtype: str = "bfloat16"
    param_dtype: str = "float32"
    remat_policy: str = "full"
    attention: str = "auto"

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"model: hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(
                f"model: num_heads {self.num_heads} is not a multiple of num_kv_heads {self.num_kv_heads}"
            )
        if self.head_dim % 2:
            raise ConfigError(f"model: head_dim {self.head_dim} must be even for rotary embeddings")
        if self.remat_policy not in REMAT_POLICIES:
            raise ConfigError(f"model: remat_policy {self.remat_policy!r}; allowed values: {', '.join(REMAT_POLICIES)}")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise ConfigError(f"model: dtype {self.dtype!r}; allowed values: float32, bfloat16, float16")
        if self.param_dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"model: param_dtype {self.param_dtype!r}; allowed values: float32, bfloat16")
        if self.attention not in ("auto", "xla", "cudnn"):
            raise ConfigError(f"model: attention {self.attention!r}; allowed values: auto, xla, cudnn")

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_heads

    def replace(self, **changes: Any) -> LlamaConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def num_params(self) -> int:
        """Number of parameters (embedding and output layer included)."""
        d, f, h, k, hd = self.hidden_size, self.intermediate_size, self.num_heads, self.num_kv_heads, self.head_dim
        per_layer = d * h * hd + 2 * d * k * hd + h * hd * d + 3 * d * f + 2 * d
        output = 0 if self.tie_word_embeddings else d * self.vocab_size
        return self.vocab_size * d + self.num_layers * per_layer + d + output


PRESETS: dict[str, LlamaConfig] = {
    # 2 layers, 128 wide, GQA (4 query heads over 2 kv heads): the CPU test model.
    "debug": LlamaConfig(
        vocab_size=512,
        hidden_size=128,
        intermediate_size=344,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        max_position_embeddings=512,
    ),
    # ~100M parameters with Llama-2's 32k vocabulary: the CPU throughput benchmark.
    "100m": LlamaConfig(hidden_size=768, intermediate_size=2048, num_layers=8, num_heads=12, num_kv_heads=12),
    # ~1.1B parameters: the single-GPU MFU benchmark.
    "1b": LlamaConfig(hidden_size=2048, intermediate_size=5632, num_layers=22, num_heads=16, num_kv_heads=16),
    "7b": LlamaConfig(hidden_size=4096, intermediate_size=11008, num_layers=32, num_heads=32, num_kv_heads=32),
    "13b": LlamaConfig(hidden_size=5120, intermediate_size=13824, num_layers=40, num_heads=40, num_kv_heads=40),
    "70b": LlamaConfig(hidden_size=8192, intermediate_size=28672, num_layers=80, num_heads=64, num_kv_heads=8),
}


def get_preset(name: str, **overrides: Any) -> LlamaConfig:
    """The preset called ``name`` (``debug``, ``100m``, ``1b``, ``7b``, ``13b``, ``70b``) with ``overrides``.

    Raises:
        ConfigError: ``name`` is not a preset, or an override is not a config field.
    """
    if name not in PRESETS:
        raise ConfigError(f"model preset {name!r} does not exist; allowed values: {', '.join(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(LlamaConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ConfigError(f"model override {unknown[0]!r} is not a field; allowed keys: {', '.join(sorted(fields))}")
    return PRESETS[name].replace(**overrides)
