"""The SFT recipe: a frozen pydantic config validated before anything is written."""

from __future__ import annotations

from typing import Literal

import pydantic

from lemur.core.config import ConfigModel


class SFTDataConfig(ConfigModel):
    """Where the conversations come from and how they become micro-batches."""

    path: str = pydantic.Field(
        description="A JSONL file of conversations ({'messages': [{'role', 'content'}, ...]} per line) or a "
        "directory of packed shards built by `lemur data build` (each segment is one example)."
    )
    template: str = pydantic.Field(
        default="chatml",
        description="Chat template for JSONL conversations: a name in lemur.train.sft.templates or 'module:attr'.",
    )
    packing: Literal["padding-free", "padded"] = pydantic.Field(
        default="padding-free",
        description="'padding-free': a micro-batch's examples concatenated into one row, positions reset, no "
        "attention across examples; 'padded': one row per example, right-padded to the longest.",
    )
    max_length: int = pydantic.Field(default=4096, ge=2, description="Examples are cut to this many tokens.")
    limit: int | None = pydantic.Field(default=None, ge=1, description="Use only the first N examples.")


class SFTConfig(ConfigModel):
    """A supervised fine-tuning run (Lemur-Chat: 2 epochs, LR 2e-5, batch 128, ChatML)."""

    run_dir: str = pydantic.Field(description="Directory for checkpoints, metrics.jsonl and the exported model.")
    model: str = pydantic.Field(
        description="A Transformers causal LM directory to start from (e.g. a JAX pre-training run's hf/)."
    )
    tokenizer: str | None = pydantic.Field(default=None, description="Tokenizer directory; default: the model's.")
    data: SFTDataConfig = pydantic.Field(description="Training conversations.")
    seed: int = pydantic.Field(default=0, description="Seed of the example order and of torch.")
    epochs: float = pydantic.Field(default=2.0, gt=0, description="Passes over the examples (paper: 2).")
    max_steps: int | None = pydantic.Field(
        default=None, ge=1, description="Total optimizer steps of the schedule; default: from epochs."
    )
    stop_at_step: int | None = pydantic.Field(
        default=None, ge=1, description="Stop (with a checkpoint) after this optimizer step; resume later."
    )
    global_batch_size: int = pydantic.Field(default=128, ge=1, description="Examples per optimizer step (paper: 128).")
    micro_batch_size: int = pydantic.Field(
        default=4, ge=1, description="Examples per forward pass per process; accumulation makes up the rest."
    )
    learning_rate: float = pydantic.Field(default=2e-5, gt=0, description="Peak learning rate (paper: 2e-5).")
    min_learning_rate: float = pydantic.Field(default=0.0, ge=0, description="Learning rate at the end of the cosine.")
    warmup_ratio: float = pydantic.Field(default=0.03, ge=0, lt=1, description="Fraction of steps of linear warm-up.")
    weight_decay: float = pydantic.Field(default=0.0, ge=0, description="AdamW weight decay.")
    adam_beta1: float = pydantic.Field(default=0.9, ge=0, lt=1, description="AdamW beta1.")
    adam_beta2: float = pydantic.Field(default=0.999, ge=0, lt=1, description="AdamW beta2.")
    adam_epsilon: float = pydantic.Field(default=1e-8, gt=0, description="AdamW epsilon.")
    max_grad_norm: float | None = pydantic.Field(default=1.0, gt=0, description="Gradient clipping; null: none.")
    precision: Literal["auto", "bf16", "fp32"] = pydantic.Field(
        default="auto", description="'auto': bf16 autocast when the accelerator supports it, else fp32."
    )
    gradient_checkpointing: bool = pydantic.Field(default=True, description="Recompute activations in backward.")
    attention: Literal["sdpa_varlen", "sdpa", "eager", "flash_attention_2"] = pydantic.Field(
        default="sdpa_varlen",
        description="Attention implementation: 'sdpa_varlen' (per-example SDPA on padding-free rows, any device), "
        "Transformers' 'sdpa' or 'eager' (dense block-diagonal mask), 'flash_attention_2' (needs flash-attn).",
    )
    save_every: int = pydantic.Field(default=500, ge=1, description="Checkpoint every N optimizer steps.")
    keep_checkpoints: int = pydantic.Field(default=2, ge=1, description="Newest checkpoints kept on disk.")
    export: bool = pydantic.Field(default=True, description="Write a Transformers model to <run_dir>/hf at the end.")
