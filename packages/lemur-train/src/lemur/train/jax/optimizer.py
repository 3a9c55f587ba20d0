"""Adam with warm-up and cosine decay, clipped by global norm: the Lemur pre-training optimizer.

The paper's setting: Adam (beta1 0.9, beta2 0.95), peak LR 4e-5 after 2,000 linear warm-up
steps from 0, cosine decay to 10% of the peak (``end_lr`` 4e-6, an absolute value), global-norm
clipping at 1.0. The schedule is evaluated at the optimizer's own update count before it is
incremented, so the first update uses ``lr(0) = 0``; ``total_steps`` includes the warm-up and
the LR stays at ``end_lr`` after it.
"""

from __future__ import annotations

import pydantic
from pydantic import Field

from lemur.core.config import ConfigModel


class OptimizerConfig(ConfigModel):
    """How the weights are updated."""

    peak_lr: float = Field(4e-5, gt=0, description="Learning rate at the end of warm-up.")
    end_lr: float = Field(4e-6, ge=0, description="Absolute learning rate at the end of the cosine (not a fraction).")
    warmup_steps: int = Field(2000, ge=0, description="Linear warm-up steps from 0 to peak_lr.")
    total_steps: int = Field(21458, gt=0, description="Schedule length in optimizer steps, warm-up included.")
    b1: float = Field(0.9, ge=0, lt=1, description="Adam beta1.")
    b2: float = Field(0.95, ge=0, lt=1, description="Adam beta2.")
    eps: float = Field(1e-8, gt=0, description="Adam epsilon.")
    weight_decay: float = Field(0.0, ge=0, description="Decoupled weight decay on matrices (0: plain Adam).")
    clip_norm: float | None = Field(1.0, gt=0, description="Global gradient-norm clip; null disables it.")

    @pydantic.model_validator(mode="after")
    def _check_schedule(self) -> OptimizerConfig:
        if self.end_lr > self.peak_lr:
            raise ValueError(
                f"end_lr {self.end_lr} is above peak_lr {self.peak_lr}; end_lr is absolute (e.g. 0.1 * peak_lr)"
            )
        if self.warmup_steps >= self.total_steps:
            raise ValueError(f"warmup_steps {self.warmup_steps} must be below total_steps {self.total_steps}")
        return self


def learning_rate_schedule(config: OptimizerConfig):
    """The LR as a function of the optimizer step: 0 -> ``peak_lr`` linearly, then cosine to ``end_lr``."""
    import optax

    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.peak_lr,
        warmup_steps=config.warmup_steps,
        decay_steps=config.total_steps,
        end_value=config.end_lr,
    )


def build_optimizer(config: OptimizerConfig):
    """The Optax transformation: clip by global norm, then Adam(W) with float32 moments and the schedule."""
    import jax
    import jax.numpy as jnp
    import optax

    def decay_mask(params):
        return jax.tree.map(lambda p: p.ndim >= 2, params)

    parts = [optax.clip_by_global_norm(config.clip_norm)] if config.clip_norm is not None else []
    parts.append(
        optax.adamw(
            learning_rate=learning_rate_schedule(config),
            b1=config.b1,
            b2=config.b2,
            eps=config.eps,
            weight_decay=config.weight_decay,
            mu_dtype=jnp.float32,
            mask=decay_mask,
        )
    )
    return optax.chain(*parts)
