"""Which examples make up each optimizer step, and the learning rate of each step.

The example stream is epoch after epoch of a permutation seeded by ``(seed, epoch)``; step ``s``
takes stream positions ``[s * G, (s + 1) * G)`` for global batch ``G``. The data position is
therefore the step number alone, which makes resuming exact. Within a step, process ``r`` of
``W`` takes the ``r``-th contiguous slice of ``G / W`` examples and splits it into micro-batches.
"""

from __future__ import annotations

import math

import numpy as np

from lemur.core.errors import ConfigError


def check_batch_layout(global_batch: int, micro_batch: int, world_size: int) -> int:
    """Gradient-accumulation steps per optimizer step for this layout.

    Raises:
        ConfigError: ``global_batch`` is not a multiple of ``micro_batch * world_size``.
    """
    per_step = micro_batch * world_size
    if global_batch % per_step:
        raise ConfigError(
            f"global_batch_size {global_batch} must be a multiple of micro_batch_size x processes "
            f"({micro_batch} x {world_size} = {per_step})"
        )
    return global_batch // per_step


def total_steps(num_examples: int, epochs: float, global_batch: int) -> int:
    """Optimizer steps in ``epochs`` passes over ``num_examples`` (a last partial batch is dropped; at least 1)."""
    return max(1, int(num_examples * epochs) // global_batch)


def step_examples(step: int, num_examples: int, global_batch: int, seed: int) -> np.ndarray:
    """Example indices of optimizer step ``step`` (0-based), in stream order."""
    positions = np.arange(step * global_batch, (step + 1) * global_batch)
    out = np.empty(global_batch, dtype=np.int64)
    epochs = positions // num_examples
    for epoch in np.unique(epochs).tolist():
        permutation = np.random.default_rng([seed, epoch]).permutation(num_examples)
        where = epochs == epoch
        out[where] = permutation[positions[where] % num_examples]
    return out


def rank_micro_batches(indices: np.ndarray, rank: int, world_size: int, micro_batch: int) -> list[np.ndarray]:
    """Process ``rank``'s micro-batches of one step's example ``indices``."""
    share = len(indices) // world_size
    mine = indices[rank * share : (rank + 1) * share]
    return [mine[i : i + micro_batch] for i in range(0, len(mine), micro_batch)]


def learning_rate(step: int, total: int, peak: float, minimum: float, warmup_ratio: float) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warm-up to ``peak``, then cosine to ``minimum``.

    Warm-up lasts ``ceil(warmup_ratio * total)`` steps; step ``0`` of a warm-up uses ``peak / warmup``.
    """
    warmup = math.ceil(warmup_ratio * total)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return minimum + (peak - minimum) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
