"""Memory-mapped shards: exact round trip, checksums, deterministic resumable shuffled reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lemur.core.errors import LemurError
from lemur.data.packing import PackStep
from lemur.data.shards import PackedDataset, PackedShard, ShardWriter
from lemur.data.tokenize import TokenizedDocument


@pytest.fixture
def batches():
    rng = np.random.default_rng(7)
    docs = [
        TokenizedDocument(str(i), rng.integers(3, 32000, size=n).astype(np.int32), source=("code", "text")[i % 2])
        for i, n in enumerate(rng.integers(1, 300, size=120))
    ]
    step = PackStep(seq_len=256, window=50)
    return list(step.run(docs)), step


def write(path, batches, step) -> dict:
    writer = ShardWriter(path, seq_len=256, vocab_size=32000, metadata={"seed": 1})
    names = list(step.sources)
    for batch in batches:
        writer.write(batch, names)
    return writer.close()


def test_round_trip_and_index(tmp_path, batches) -> None:
    batches, step = batches
    index = write(tmp_path / "shard-0", batches, step)
    dataset = PackedDataset(tmp_path)
    assert len(dataset) == index["rows"] == sum(b.num_rows for b in batches)
    assert index["dtypes"]["tokens"] == "<u2" and index["metadata"] == {"seed": 1}
    rows = [
        dict(zip(("tokens", "segment_ids", "positions", "loss_mask"), t, strict=True))
        for b in batches
        for t in zip(b.tokens, b.segment_ids, b.positions, b.loss_mask, strict=True)
    ]
    for i in (0, 5, len(dataset) - 1):
        for name, expected in rows[i].items():
            assert np.array_equal(dataset[i][name], expected)
    assert sum(dataset.tokens_per_source().values()) == step.stats["tokens"]
    assert set(dataset.tokens_per_source()) == {"code", "text"}
    dataset.verify()
    assert not (tmp_path / "shard-0.partial").exists()


def test_corruption_is_detected(tmp_path, batches) -> None:
    write(tmp_path / "s", *batches)
    tokens = tmp_path / "s" / "tokens.bin"
    data = bytearray(tokens.read_bytes())
    data[10] ^= 0xFF
    tokens.write_bytes(bytes(data))
    with pytest.raises(LemurError, match="checksum mismatch"):
        PackedShard(tmp_path / "s").verify()


def test_truncated_file_is_rejected(tmp_path, batches) -> None:
    write(tmp_path / "s", *batches)
    (tmp_path / "s" / "loss_mask.bin").write_bytes(b"\0")
    with pytest.raises(LemurError, match="wrong size"):
        PackedShard(tmp_path / "s")


def test_existing_shard_is_not_overwritten(tmp_path, batches) -> None:
    write(tmp_path / "s", *batches)
    with pytest.raises(LemurError, match="already exists"):
        ShardWriter(tmp_path / "s", seq_len=256, vocab_size=32000)


def test_shuffled_iteration_is_deterministic_and_resumable(tmp_path, batches) -> None:
    batches, step = batches
    half = len(batches) // 2
    write(tmp_path / "a", batches[:half], step)
    write(tmp_path / "b", batches[half:], step)
    dataset = PackedDataset(tmp_path)
    n = len(dataset)
    it = dataset.iter_rows(seed=3)
    first = [next(it) for _ in range(n + 5)]
    assert sorted(p for p, _ in first[:n]) == list(range(n))
    seen = [r["tokens"].tobytes() for _, r in first[:n]]
    assert len(set(seen)) == n  # an epoch visits every row once
    resumed = dataset.iter_rows(seed=3, start=n - 2)
    for position, row in first[n - 2 :]:
        again_position, again = next(resumed)
        assert again_position == position and np.array_equal(again["tokens"], row["tokens"])
    assert not np.array_equal(dataset.order(3, 0), dataset.order(3, 1))
    assert not np.array_equal(dataset.order(3, 0), dataset.order(4, 0))


def test_missing_dataset_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(LemurError, match="no packed shards"):
        PackedDataset(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "index.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(LemurError, match="not a lemur-packed"):
        PackedDataset(tmp_path)


def test_large_vocabularies_get_uint32_tokens(tmp_path) -> None:
    docs = [TokenizedDocument("a", np.array([1, 70_000, 100_000, 2], dtype=np.int32))]
    step = PackStep(seq_len=8, window=4)
    writer = ShardWriter(tmp_path / "s", seq_len=8, vocab_size=128_256)
    for batch in step.run(docs):
        writer.write(batch)
    assert writer.close()["dtypes"]["tokens"] == "<u4"
    assert PackedDataset(tmp_path)[0]["tokens"].tolist()[:4] == [1, 70_000, 100_000, 2]
