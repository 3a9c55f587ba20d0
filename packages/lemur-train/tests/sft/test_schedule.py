"""The batch plan (every example once per epoch, deterministic, split across processes) and the LR schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lemur.core.errors import ConfigError
from lemur.train.sft.schedule import (
    check_batch_layout,
    learning_rate,
    rank_micro_batches,
    step_examples,
    total_steps,
)


def test_each_epoch_uses_every_example_once_in_a_seeded_order() -> None:
    steps = [step_examples(s, 24, 8, seed=3) for s in range(6)]  # two epochs of 3 steps
    first, second = np.concatenate(steps[:3]), np.concatenate(steps[3:])
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(24))
    assert first.tolist() != second.tolist()
    assert np.array_equal(step_examples(4, 24, 8, seed=3), steps[4])
    assert not np.array_equal(step_examples(0, 24, 8, seed=4), steps[0])
    # A step that straddles two epochs takes the end of one and the start of the next.
    straddle = step_examples(2, 20, 8, seed=0)
    assert straddle[:4].tolist() == np.random.default_rng([0, 0]).permutation(20)[16:].tolist()
    assert straddle[4:].tolist() == np.random.default_rng([0, 1]).permutation(20)[:4].tolist()


def test_processes_split_a_step_into_disjoint_micro_batches() -> None:
    indices = step_examples(0, 100, 16, seed=0)
    parts = [rank_micro_batches(indices, rank, 2, 4) for rank in range(2)]
    assert [len(p) for p in parts] == [2, 2]
    assert np.concatenate([m for p in parts for m in p]).tolist() == indices.tolist()
    assert check_batch_layout(128, 4, 8) == 4
    with pytest.raises(ConfigError, match=r"global_batch_size 128 must be a multiple of .* \(3 x 2 = 6\)"):
        check_batch_layout(128, 3, 2)


def test_total_steps_of_the_paper_budget() -> None:
    # About 300K conversations, 2 epochs, batch 128 (research notes: about 4,688 steps).
    assert total_steps(300_000, 2, 128) == 4687
    assert total_steps(5, 1, 128) == 1


def test_warmup_then_cosine_to_the_minimum() -> None:
    total, peak, low = 100, 2e-5, 2e-6
    lrs = [learning_rate(s, total, peak, low, 0.03) for s in range(total)]
    assert lrs[:3] == pytest.approx([peak / 3, 2 * peak / 3, peak])
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:], strict=False))
    halfway = 3 + (total - 3) / 2
    assert learning_rate(math.ceil(halfway), total, peak, low, 0.03) == pytest.approx((peak + low) / 2, rel=0.05)
    assert learning_rate(total, total, peak, low, 0.03) == pytest.approx(low)
