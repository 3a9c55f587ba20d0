"""MinHash-LSH dedup across shards, in three stages that exchange only small files.

1. :class:`MinhashSignatures` (one task per shard) passes records through unchanged and
   writes the shard's band keys (``8 * bands`` bytes per document) and signatures
   (``4 * num_perm`` bytes, used only for ``verify_threshold``) to
   ``<work_dir>/signatures/<rank>.npz``. An existing file means the shard is done: the
   rerun skips hashing.
2. :func:`cluster_shards` (one task) finds, band by band, documents with equal keys over
   all shards, joins them with union-find, and writes ``<work_dir>/remove/<rank>.npy``: the
   indices of each shard's documents to drop (every cluster keeps its first member in
   (shard, index) order).
3. :class:`MinhashFilter` (one task per shard) drops those indices from the same shard,
   read again in the same order.

Given the same shards, the result equals :class:`~lemur.data.steps.minhash.MinhashDedup`
on their concatenation.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from lemur.core.errors import LemurError
from lemur.data.records import Document
from lemur.data.steps.base import PipelineStep
from lemur.data.steps.minhash import (
    EMPTY_VALUE,
    MinhashConfig,
    MinHasher,
    band_keys,
    bucket_pairs,
    cluster_roots,
    estimated_jaccard,
)


def _shard_name(rank: int) -> str:
    return f"{rank:05d}"


def _atomic_save(path: Path, writer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        writer(handle)
    os.replace(partial, path)


class MinhashSignatures(PipelineStep):
    """Stage 1: write the shard's LSH band keys and signatures; records pass through unchanged.

    Args:
        work_dir: Directory shared by the three stages.
        shingle_size, num_perm, bands, rows, seed: See :class:`~lemur.data.steps.minhash.MinhashConfig`.
        batch_size: Documents signed per vectorised batch.
    """

    name = "minhash-signatures"

    def __init__(
        self,
        work_dir: str | Path,
        shingle_size: int = 5,
        num_perm: int = 112,
        bands: int = 14,
        rows: int = 8,
        seed: int = 1,
        batch_size: int = 2000,
    ) -> None:
        super().__init__()
        self.work_dir = Path(work_dir)
        self.config = MinhashConfig(shingle_size, num_perm, bands, rows, seed)
        self.batch_size = batch_size

    def run(self, records: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        target = self.work_dir / "signatures" / f"{_shard_name(rank)}.npz"
        if target.is_file():
            self.stats["shard_already_signed"] += 1
            yield from records
            return
        hasher = MinHasher(self.config)
        parts, batch = [], []
        for record in records:
            batch.append(record.text)
            if len(batch) >= self.batch_size:
                parts.append(hasher.signatures(batch))
                batch = []
            self.stats["documents"] += 1
            yield record
        if batch:
            parts.append(hasher.signatures(batch))
        signatures = np.concatenate(parts) if parts else np.empty((0, self.config.num_perm), np.uint32)
        keys = band_keys(signatures, self.config.bands, self.config.rows)
        empty = np.all(signatures == EMPTY_VALUE, axis=1)
        _atomic_save(target, lambda handle: np.savez(handle, keys=keys, signatures=signatures, empty=empty))


def cluster_shards(
    work_dir: str | Path, world_size: int, verify_threshold: float | None = None
) -> dict[int, np.ndarray]:
    """Stage 2: near-duplicate clusters over every shard; write and return each shard's drop list.

    Args:
        work_dir: The directory stage 1 wrote to.
        world_size: How many shards stage 1 ran.
        verify_threshold: Merge a candidate pair only if its estimated Jaccard reaches this.

    Returns:
        Shard rank -> sorted indices of its documents to drop.

    Raises:
        LemurError: A shard's signature file is missing (stage 1 did not finish it).
    """
    work_dir = Path(work_dir)
    loaded = []
    for rank in range(world_size):
        path = work_dir / "signatures" / f"{_shard_name(rank)}.npz"
        if not path.is_file():
            raise LemurError(f"minhash: shard {rank} has no signatures at {path}; run stage 1 for every shard first")
        loaded.append(np.load(path))
    sizes = [len(item["keys"]) for item in loaded]
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    valid = np.flatnonzero(~np.concatenate([item["empty"] for item in loaded]))
    bands = loaded[0]["keys"].shape[1] if sizes and sizes[0] else 0
    pairs = []
    for band in range(bands):
        column = np.concatenate([item["keys"][:, band] for item in loaded])[valid]
        pairs.append(bucket_pairs(column, valid))
    found = np.unique(np.concatenate(pairs), axis=0) if pairs else np.empty((0, 2), np.int64)
    if verify_threshold is not None and len(found):
        signatures = np.concatenate([item["signatures"] for item in loaded])
        found = found[estimated_jaccard(signatures, found) >= verify_threshold]
    roots = cluster_roots(int(offsets[-1]), found.astype(np.int64))
    drop = np.flatnonzero(roots != np.arange(len(roots)))
    result = {}
    for rank in range(world_size):
        local = drop[(drop >= offsets[rank]) & (drop < offsets[rank + 1])] - offsets[rank]
        result[rank] = local
        _atomic_save(work_dir / "remove" / f"{_shard_name(rank)}.npy", lambda handle, a=local: np.save(handle, a))
    return result


class MinhashFilter(PipelineStep):
    """Stage 3: drop the documents stage 2 listed for this shard (same shard, same order).

    Args:
        work_dir: The directory stages 1 and 2 wrote to.

    Raises:
        LemurError: Stage 2 has not written this shard's drop list.
    """

    name = "minhash-filter"

    def __init__(self, work_dir: str | Path) -> None:
        super().__init__()
        self.work_dir = Path(work_dir)

    def run(self, records: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        path = self.work_dir / "remove" / f"{_shard_name(rank)}.npy"
        if not path.is_file():
            raise LemurError(f"minhash: no drop list for shard {rank} at {path}; run cluster_shards first")
        drop = set(np.load(path).tolist())
        for index, record in enumerate(records):
            if index in drop:
                self.stats["dropped"] += 1
                self.stats["dropped_near_duplicate"] += 1
            else:
                self.stats["kept"] += 1
                yield record
