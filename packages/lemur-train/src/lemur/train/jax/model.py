"""Llama-2 in Flax, in reading order: RMSNorm -> rotary -> attention -> MLP -> layer -> stack -> causal LM.

Weights and activations carry logical axis names only (``embed``, ``q_heads``, ``mlp``,
``activation_batch``...); :mod:`lemur.train.jax.sharding` maps them to mesh axes. The layers
are one ``nn.scan`` (stacked weights, compile time independent of depth) wrapped in
``nn.remat`` with a named policy. Attention never crosses packed documents: a query attends
only to earlier keys with the same ``segment_id``.

Rotary embeddings use the *interleaved* layout of Meta's original checkpoints (each pair
``(2i, 2i+1)`` of a head rotates together); Hugging Face's rotate-half layout differs by a
fixed permutation of the q/k output rows, applied in :mod:`lemur.train.jax.convert`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name

from lemur.train.jax.configs import LlamaConfig

Axes = tuple[str | None, ...]


def _weight(module: nn.Module, name: str, shape: tuple[int, ...], axes: Axes, config: LlamaConfig) -> jax.Array:
    init = nn.with_logical_partitioning(nn.initializers.normal(config.initializer_range), axes)
    return module.param(name, init, shape, jnp.dtype(config.param_dtype))


def _constrain(x: jax.Array, axes: Axes) -> jax.Array:
    return nn.with_logical_constraint(x, axes)


class RMSNorm(nn.Module):
    """Root-mean-square normalisation, computed in float32 and scaled by a learned vector."""

    config: LlamaConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = nn.with_logical_partitioning(nn.initializers.ones, ("norm",))
        scale = self.param("scale", init, (self.config.hidden_size,), jnp.dtype(self.config.param_dtype))
        x32 = x.astype(jnp.float32)
        normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.config.rms_norm_eps)
        dtype = jnp.dtype(self.config.dtype)
        return scale.astype(dtype) * normed.astype(dtype)


def apply_rotary(x: jax.Array, positions: jax.Array, theta: float) -> jax.Array:
    """Rotate each interleaved pair ``(2i, 2i+1)`` of every head by ``position * theta**(-2i/head_dim)``.

    Args:
        x: ``[batch, length, heads, head_dim]``.
        positions: ``[batch, length]`` integer positions (restarting at 0 in each packed document).
        theta: The rotary base.
    """
    head_dim = x.shape[-1]
    inv_freq = 1.0 / (theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim))
    angles = positions.astype(jnp.float32)[:, :, None, None] * inv_freq  # [b, s, 1, hd/2]
    cos, sin = jnp.cos(angles), jnp.sin(angles)
    pairs = x.astype(jnp.float32).reshape(*x.shape[:-1], head_dim // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = jnp.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)
    return rotated.reshape(x.shape).astype(x.dtype)


def segment_mask(segment_ids: jax.Array) -> jax.Array:
    """``[batch, 1, length, length]`` booleans: query ``i`` may see key ``j`` of the same segment.

    Causality is added by the attention call (``is_causal=True``), which lets the cuDNN kernel
    skip the upper triangle instead of reading it from the mask.
    """
    return (segment_ids[:, :, None] == segment_ids[:, None, :])[:, None]


def _attention_impl(config: LlamaConfig) -> str:
    if config.attention != "auto":
        return config.attention
    fused = jax.default_backend() == "gpu" and config.dtype in ("bfloat16", "float16")
    return "cudnn" if fused else "xla"


class Attention(nn.Module):
    """Grouped-query self-attention with rotary positions and a packed-document mask."""

    config: LlamaConfig

    @nn.compact
    def __call__(self, x: jax.Array, positions: jax.Array, mask: jax.Array) -> jax.Array:
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        d, h, k, hd = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        wq = _weight(self, "q_proj", (d, h, hd), ("embed", "q_heads", "kv"), cfg)
        wk = _weight(self, "k_proj", (d, k, hd), ("embed", "kv_heads", "kv"), cfg)
        wv = _weight(self, "v_proj", (d, k, hd), ("embed", "kv_heads", "kv"), cfg)
        wo = _weight(self, "o_proj", (h, hd, d), ("q_heads", "kv", "embed"), cfg)

        # Projections, tagged so remat policies can choose to keep them.
        q = checkpoint_name(jnp.einsum("bsd,dhk->bshk", x, wq.astype(dtype)), "query_proj")
        kk = checkpoint_name(jnp.einsum("bsd,dhk->bshk", x, wk.astype(dtype)), "key_proj")
        v = checkpoint_name(jnp.einsum("bsd,dhk->bshk", x, wv.astype(dtype)), "value_proj")
        q = _constrain(q, ("activation_batch", "activation_length", "activation_heads", None))
        kk = _constrain(kk, ("activation_batch", "activation_length", "activation_kv_heads", None))
        v = _constrain(v, ("activation_batch", "activation_length", "activation_kv_heads", None))

        # Rotary positions, then fused attention (GQA handled by the kernel).
        q = apply_rotary(q, positions, cfg.rope_theta)
        kk = apply_rotary(kk, positions, cfg.rope_theta)
        out = jax.nn.dot_product_attention(q, kk, v, mask=mask, is_causal=True, implementation=_attention_impl(cfg))
        out = _constrain(out, ("activation_batch", "activation_length", "activation_heads", None))

        # Output projection back to the residual stream.
        out = checkpoint_name(jnp.einsum("bshk,hkd->bsd", out, wo.astype(dtype)), "out_proj")
        return _constrain(out, ("activation_batch", "activation_length", "activation_embed"))


class MLP(nn.Module):
    """SwiGLU feed-forward: ``down(silu(gate(x)) * up(x))``."""

    config: LlamaConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        gate = _weight(self, "gate_proj", (cfg.hidden_size, cfg.intermediate_size), ("embed", "mlp"), cfg)
        up = _weight(self, "up_proj", (cfg.hidden_size, cfg.intermediate_size), ("embed", "mlp"), cfg)
        down = _weight(self, "down_proj", (cfg.intermediate_size, cfg.hidden_size), ("mlp", "embed"), cfg)
        hidden = jax.nn.silu(x @ gate.astype(dtype)) * (x @ up.astype(dtype))
        hidden = _constrain(hidden, ("activation_batch", "activation_length", "activation_mlp"))
        return _constrain(hidden @ down.astype(dtype), ("activation_batch", "activation_length", "activation_embed"))


class DecoderLayer(nn.Module):
    """One pre-norm Llama block; its call signature fits ``nn.scan`` (carry, per-step input)."""

    config: LlamaConfig

    @nn.compact
    def __call__(self, x: jax.Array, positions: jax.Array, mask: jax.Array) -> tuple[jax.Array, None]:
        # Attention with residual.
        x = x + Attention(self.config, name="attention")(
            RMSNorm(self.config, name="attention_norm")(x), positions, mask
        )
        # MLP with residual.
        x = x + MLP(self.config, name="mlp")(RMSNorm(self.config, name="mlp_norm")(x))
        return _constrain(x, ("activation_batch", "activation_length", "activation_embed")), None


def remat_policy(name: str):
    """The ``jax.checkpoint`` policy for a name in :data:`~lemur.train.jax.configs.REMAT_POLICIES` (None: no remat)."""
    policies = jax.checkpoint_policies
    return {
        "none": None,
        "full": policies.nothing_saveable,
        "minimal": policies.dots_with_no_batch_dims_saveable,
        "save_dot_except_mlp": policies.save_only_these_names("query_proj", "key_proj", "value_proj", "out_proj"),
        "save_qkv_proj": policies.save_only_these_names("query_proj", "key_proj", "value_proj"),
    }[name]


class LlamaForCausalLM(nn.Module):
    """The Llama-2 causal language model: token ids in, next-token logits (float32) out."""

    config: LlamaConfig

    @nn.compact
    def __call__(self, tokens: jax.Array, positions: jax.Array, segment_ids: jax.Array) -> jax.Array:
        """Logits ``[batch, length, vocab]`` in float32.

        Args:
            tokens: ``[batch, length]`` int token ids.
            positions: ``[batch, length]`` position of each token within its document.
            segment_ids: ``[batch, length]`` document number of each token; tokens attend only
                within their own segment (0 marks padding, which forms a segment of its own).
        """
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        init = nn.with_logical_partitioning(nn.initializers.normal(cfg.initializer_range), ("vocab", "embed"))
        embedding = self.param("embed_tokens", init, (cfg.vocab_size, cfg.hidden_size), jnp.dtype(cfg.param_dtype))
        x = jnp.take(embedding, tokens, axis=0).astype(dtype)
        x = _constrain(x, ("activation_batch", "activation_length", "activation_embed"))
        mask = segment_mask(segment_ids)

        layer = DecoderLayer
        policy = remat_policy(cfg.remat_policy)
        if cfg.remat_policy != "none":
            layer = nn.remat(DecoderLayer, policy=policy, prevent_cse=False)
        stack = nn.scan(
            layer,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=(nn.broadcast, nn.broadcast),
            length=cfg.num_layers,
            metadata_params={nn.PARTITION_NAME: "layers"},
        )
        x, _ = stack(cfg, name="layers")(x, positions, mask)

        x = RMSNorm(cfg, name="final_norm")(x)
        if cfg.tie_word_embeddings:
            logits = x @ embedding.T.astype(dtype)
        else:
            logits = x @ _weight(self, "lm_head", (cfg.hidden_size, cfg.vocab_size), ("embed", "vocab"), cfg).astype(
                dtype
            )
        return _constrain(logits, ("activation_batch", "activation_length", "activation_vocab")).astype(jnp.float32)
