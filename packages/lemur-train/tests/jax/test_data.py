"""Host slicing and resumable positions of the pre-training input, on real packed shards."""

from __future__ import annotations

import numpy as np
import pytest

from lemur.core.errors import ConfigError
from lemur.data.shards import PackedDataset
from lemur.train.jax.data import PackedBatches, model_inputs


def test_hosts_read_disjoint_slices_that_make_up_the_global_batch(packed_shards) -> None:
    dataset = PackedDataset(packed_shards)
    whole = PackedBatches(dataset, 8, seed=3)
    hosts = [PackedBatches(dataset, 8, seed=3, process_index=i, process_count=2) for i in range(2)]
    for _ in range(3):
        expected = next(whole)
        parts = [next(host) for host in hosts]
        for name, array in expected.items():
            assert np.array_equal(np.concatenate([p[name] for p in parts]), array)
            assert parts[0][name].shape[0] == 4
    assert hosts[0].state() == whole.state() == {"position": 24, "seed": 3, "rows": len(dataset)}


def test_restore_continues_with_the_next_batch_across_epochs(packed_shards) -> None:
    dataset = PackedDataset(packed_shards)
    batches = PackedBatches(dataset, 64, seed=1)
    steps = len(dataset) // 64 + 2  # past the end of the first epoch
    seen = [next(batches) for _ in range(steps)]
    resumed = PackedBatches(dataset, 64, seed=1)
    resumed.restore(PackedBatches(dataset, 64, seed=1).state() | {"position": 64 * (steps - 2)})
    for expected in seen[-2:]:
        assert np.array_equal(next(resumed)["tokens"], expected["tokens"])
    with pytest.raises(ConfigError, match="does not match this run"):
        PackedBatches(dataset, 64, seed=2).restore(batches.state())


def test_model_inputs_never_predict_across_documents_or_padding() -> None:
    batch = {
        "tokens": np.array([[5, 6, 7, 8, 9, 0]]),
        "segment_ids": np.array([[1, 1, 1, 2, 2, 0]]),
        "positions": np.array([[0, 1, 2, 0, 1, 0]]),
        "loss_mask": np.array([[1, 1, 0, 1, 1, 0]]),
    }
    inputs = model_inputs(batch)
    assert inputs["targets"].tolist() == [[6, 7, 8, 9, 0, 0]]
    # 5->6 trained; 6->7 masked by loss_mask; 7->8 crosses documents; 8->9 trained; 9->pad and last: no.
    assert inputs["weights"].tolist() == [[1, 0, 0, 1, 0, 0]]
