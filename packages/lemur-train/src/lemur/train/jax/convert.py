"""Conversion between Hugging Face Llama checkpoints (``config.json`` + safetensors) and Flax params.

Besides transposing ``[out, in]`` Linear weights into ``[in, ...out]`` kernels and stacking the
layers, the q/k projections change rotary layout: Hugging Face rotates halves
(``x[:hd/2]`` with ``x[hd/2:]``), Lemur's model rotates interleaved pairs (``x[2i]`` with
``x[2i+1]``, Meta's original layout). Row ``p*hd/2 + i`` of a Hugging Face head is row
``2i + p`` of the interleaved head; the permutation is exact, so HF -> Flax -> HF returns the
same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lemur.core.errors import ConfigError
from lemur.train.jax.configs import LlamaConfig

Params = dict[str, Any]


def config_from_hf(hf: Mapping[str, Any], **overrides: Any) -> LlamaConfig:
    """A :class:`LlamaConfig` from a Hugging Face Llama ``config.json`` mapping (plus ``overrides``).

    Raises:
        ConfigError: The config is not a Llama config or uses rope scaling, which this model lacks.
    """
    if hf.get("model_type", "llama") != "llama":
        raise ConfigError(f"config.json: model_type {hf.get('model_type')!r} is not supported; allowed values: llama")
    if hf.get("rope_scaling"):
        raise ConfigError("config.json: rope_scaling is not supported by the JAX Llama model; allowed values: null")
    fields = {
        "vocab_size": hf["vocab_size"],
        "hidden_size": hf["hidden_size"],
        "intermediate_size": hf["intermediate_size"],
        "num_layers": hf["num_hidden_layers"],
        "num_heads": hf["num_attention_heads"],
        "num_kv_heads": hf.get("num_key_value_heads") or hf["num_attention_heads"],
        "max_position_embeddings": hf.get("max_position_embeddings", 4096),
        "rms_norm_eps": hf.get("rms_norm_eps", 1e-5),
        "rope_theta": hf.get("rope_theta", 10000.0),
        "tie_word_embeddings": bool(hf.get("tie_word_embeddings", False)),
        "initializer_range": hf.get("initializer_range", 0.02),
    }
    return LlamaConfig(**{**fields, **overrides})


def config_to_hf(config: LlamaConfig, torch_dtype: str = "bfloat16") -> dict[str, Any]:
    """The Hugging Face ``config.json`` mapping for ``config`` (``LlamaForCausalLM``)."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "num_key_value_heads": config.num_kv_heads,
        "max_position_embeddings": config.max_position_embeddings,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": config.rope_theta,
        "tie_word_embeddings": config.tie_word_embeddings,
        "initializer_range": config.initializer_range,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": torch_dtype,
    }


def _rotate_half_to_interleaved(x: np.ndarray) -> np.ndarray:
    """Permute the last (head_dim) axis from rotate-half to interleaved order."""
    hd = x.shape[-1]
    return x.reshape(*x.shape[:-1], 2, hd // 2).swapaxes(-1, -2).reshape(x.shape)


def _interleaved_to_rotate_half(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_rotate_half_to_interleaved`."""
    hd = x.shape[-1]
    return x.reshape(*x.shape[:-1], hd // 2, 2).swapaxes(-1, -2).reshape(x.shape)


def hf_to_params(state: Mapping[str, np.ndarray], config: LlamaConfig) -> Params:
    """Flax params (numpy, the checkpoint's dtype) from a Hugging Face Llama state dict.

    Raises:
        ConfigError: A tensor the model needs is missing from ``state``.
    """

    def get(name: str) -> np.ndarray:
        if name not in state:
            raise ConfigError(f"Hugging Face checkpoint: tensor {name!r} is missing")
        return np.asarray(state[name])

    h, k, hd, d = config.num_heads, config.num_kv_heads, config.head_dim, config.hidden_size

    def layer(i: int) -> Params:
        p = f"model.layers.{i}."
        q = get(p + "self_attn.q_proj.weight").reshape(h, hd, d).transpose(2, 0, 1)
        kk = get(p + "self_attn.k_proj.weight").reshape(k, hd, d).transpose(2, 0, 1)
        v = get(p + "self_attn.v_proj.weight").reshape(k, hd, d).transpose(2, 0, 1)
        o = get(p + "self_attn.o_proj.weight").T.reshape(h, hd, d)
        return {
            "attention_norm": {"scale": get(p + "input_layernorm.weight")},
            "attention": {
                "q_proj": _rotate_half_to_interleaved(q),
                "k_proj": _rotate_half_to_interleaved(kk),
                "v_proj": v,
                "o_proj": o,
            },
            "mlp_norm": {"scale": get(p + "post_attention_layernorm.weight")},
            "mlp": {
                "gate_proj": get(p + "mlp.gate_proj.weight").T,
                "up_proj": get(p + "mlp.up_proj.weight").T,
                "down_proj": get(p + "mlp.down_proj.weight").T,
            },
        }

    layers = [layer(i) for i in range(config.num_layers)]
    import jax

    params: Params = {
        "embed_tokens": get("model.embed_tokens.weight"),
        "layers": jax.tree.map(lambda *xs: np.stack(xs), *layers),
        "final_norm": {"scale": get("model.norm.weight")},
    }
    if not config.tie_word_embeddings:
        params["lm_head"] = get("lm_head.weight").T
    return params


def params_to_hf(params: Params, config: LlamaConfig) -> dict[str, np.ndarray]:
    """A Hugging Face Llama state dict (numpy, the params' dtype) from Flax params; inverse of :func:`hf_to_params`."""
    h, k, hd, d = config.num_heads, config.num_kv_heads, config.head_dim, config.hidden_size
    layers = params["layers"]
    state: dict[str, np.ndarray] = {"model.embed_tokens.weight": np.asarray(params["embed_tokens"])}
    for i in range(config.num_layers):
        p = f"model.layers.{i}."
        att = {name: np.asarray(w[i]) for name, w in layers["attention"].items()}
        mlp = {name: np.asarray(w[i]) for name, w in layers["mlp"].items()}
        state[p + "self_attn.q_proj.weight"] = (
            _interleaved_to_rotate_half(att["q_proj"]).transpose(1, 2, 0).reshape(h * hd, d)
        )
        state[p + "self_attn.k_proj.weight"] = (
            _interleaved_to_rotate_half(att["k_proj"]).transpose(1, 2, 0).reshape(k * hd, d)
        )
        state[p + "self_attn.v_proj.weight"] = att["v_proj"].transpose(1, 2, 0).reshape(k * hd, d)
        state[p + "self_attn.o_proj.weight"] = att["o_proj"].reshape(h * hd, d).T
        state[p + "mlp.gate_proj.weight"] = mlp["gate_proj"].T
        state[p + "mlp.up_proj.weight"] = mlp["up_proj"].T
        state[p + "mlp.down_proj.weight"] = mlp["down_proj"].T
        state[p + "input_layernorm.weight"] = np.asarray(layers["attention_norm"]["scale"][i])
        state[p + "post_attention_layernorm.weight"] = np.asarray(layers["mlp_norm"]["scale"][i])
    state["model.norm.weight"] = np.asarray(params["final_norm"]["scale"])
    if not config.tie_word_embeddings:
        state["lm_head.weight"] = np.asarray(params["lm_head"]).T
    return {name: np.ascontiguousarray(w) for name, w in state.items()}


def load_hf_checkpoint(path: str | Path, **overrides: Any) -> tuple[LlamaConfig, Params]:
    """Read a Hugging Face Llama directory (``config.json`` and ``*.safetensors``) into (config, Flax params).

    Raises:
        ConfigError: The directory has no ``config.json`` or no safetensors file, or a tensor is missing.
    """
    from safetensors import safe_open

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ConfigError(f"{path}: not a Hugging Face checkpoint (no config.json)")
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ConfigError(f"{path}: no *.safetensors files (convert .bin checkpoints to safetensors first)")
    config = config_from_hf(json.loads((path / "config.json").read_text()), **overrides)
    state: dict[str, np.ndarray] = {}
    for file in files:
        with safe_open(str(file), framework="flax") as handle:
            for name in handle.keys():
                state[name] = np.asarray(handle.get_tensor(name))
    return config, hf_to_params(state, config)


#: Files copied from the checkpoint a run continued, so the export loads with its tokenizer.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "generation_config.json",
)


def save_hf_checkpoint(
    path: str | Path,
    config: LlamaConfig,
    params: Params,
    dtype: str = "bfloat16",
    tokenizer_from: str | Path | None = None,
) -> Path:
    """Write Flax ``params`` as a Hugging Face Llama directory: ``config.json`` + ``model.safetensors``.

    Args:
        path: Output directory (created).
        config: The model config.
        params: Flax params (unboxed; numpy or jax arrays).
        dtype: Dtype of the written tensors (``bfloat16``, ``float32`` or ``float16``).
        tokenizer_from: A Hugging Face directory whose :data:`TOKENIZER_FILES` are copied along.

    Returns:
        The directory written.
    """
    import shutil

    import jax.numpy as jnp
    from safetensors.flax import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = params_to_hf(params, config)
    save_file(
        {name: jnp.asarray(w, dtype=jnp.dtype(dtype)) for name, w in state.items()}, str(path / "model.safetensors")
    )
    (path / "config.json").write_text(json.dumps(config_to_hf(config, dtype), indent=2) + "\n")
    if tokenizer_from is not None:
        for name in TOKENIZER_FILES:
            if (Path(tokenizer_from) / name).is_file():
                shutil.copyfile(Path(tokenizer_from) / name, path / name)
    return path
