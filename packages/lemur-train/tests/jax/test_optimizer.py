"""The paper's LR schedule and optimizer: documented values, validation, and the clipped Adam update."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lemur.core.config import validate_config
from lemur.core.errors import ConfigError
from lemur.train.jax.optimizer import OptimizerConfig, build_optimizer, learning_rate_schedule

PAPER = OptimizerConfig()  # peak 4e-5, 2,000 warm-up steps, cosine to 4e-6 over 21,458 steps


def reference_lr(step: int, peak: float, end: float, warmup: int, total: int) -> float:
    """Linear warm-up from 0, then cosine from peak to end (independent of optax)."""
    if step < warmup:
        return peak * step / warmup
    progress = min(step - warmup, total - warmup) / (total - warmup)
    return end + (peak - end) * 0.5 * (1 + math.cos(math.pi * progress))


def test_defaults_are_the_papers() -> None:
    assert (PAPER.peak_lr, PAPER.end_lr, PAPER.warmup_steps) == (4e-5, 4e-6, 2000)
    assert (PAPER.b1, PAPER.b2, PAPER.clip_norm) == (0.9, 0.95, 1.0)


@pytest.mark.parametrize("step", [0, 1, 1000, 1999, 2000, 2001, 11729, 21457, 21458, 30000])
def test_schedule_matches_the_documented_curve(step: int) -> None:
    lr = float(learning_rate_schedule(PAPER)(step))
    assert lr == pytest.approx(reference_lr(step, 4e-5, 4e-6, 2000, 21458), rel=2e-4, abs=1e-12)  # float32 arithmetic


def test_schedule_landmarks() -> None:
    schedule = learning_rate_schedule(PAPER)
    assert float(schedule(0)) == 0.0
    assert float(schedule(2000)) == pytest.approx(4e-5, rel=1e-6)
    assert float(schedule(21458)) == pytest.approx(0.1 * 4e-5, rel=1e-5)
    assert float(schedule(1000)) == pytest.approx(2e-5, rel=1e-6)


def test_end_lr_above_peak_is_rejected_with_the_field_named() -> None:
    with pytest.raises(ConfigError, match=r"recipe.yaml: .*end_lr 0.001 is above peak_lr 4e-05"):
        validate_config(OptimizerConfig, {"end_lr": 1e-3}, "recipe.yaml")
    with pytest.raises(ConfigError, match="warmup_steps"):
        validate_config(OptimizerConfig, {"warmup_steps": 10, "total_steps": 10}, "recipe.yaml")


def test_first_update_uses_lr_zero_and_clipping_bounds_the_step() -> None:
    import jax.numpy as jnp

    config = OptimizerConfig(peak_lr=1.0, end_lr=0.1, warmup_steps=1, total_steps=10, clip_norm=1.0)
    tx = build_optimizer(config)
    params = {"w": jnp.ones((2, 2))}
    state = tx.init(params)
    huge = {"w": jnp.full((2, 2), 1e6)}
    updates, state = tx.update(huge, state, params)
    assert np.all(np.asarray(updates["w"]) == 0)  # lr(0) = 0
    updates, state = tx.update(huge, state, params)
    # After clipping to norm 1 every entry is 0.5; Adam's bias-corrected first step is lr * sign = -1.
    np.testing.assert_allclose(np.asarray(updates["w"]), -1.0, rtol=1e-5)
    assert state[1][0].mu["w"].dtype == jnp.float32
