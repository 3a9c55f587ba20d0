"""Exact deduplication by a 128-bit digest of each document's (optionally simplified) text.

Within one shard, :class:`ExactDedup` keeps the first occurrence. Across shards, each shard
writes its digests with :func:`shard_digests` (16 bytes per document) and
:func:`cross_shard_duplicates` decides, from all of them at once, which ``(shard, index)``
pairs to drop: the first occurrence in (shard, index) order is the one kept. Nothing but
digests crosses shard boundaries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import numpy as np

from lemur.core.errors import ConfigError
from lemur.data.records import Document
from lemur.data.steps.base import DedupStep

_SPACE = re.compile(r"\s+")
MODES = ("exact", "simple")


def text_key(text: str, mode: str = "simple") -> str:
    """What two texts must share to count as duplicates.

    Args:
        text: The text.
        mode: ``exact`` compares texts as they are; ``simple`` lower-cases them and collapses
            runs of whitespace to one space, trimming both ends.
    """
    if mode == "exact":
        return text
    return _SPACE.sub(" ", text.lower()).strip()


def digest(text: str, mode: str = "simple") -> bytes:
    """The 16-byte BLAKE2b digest of :func:`text_key` (collisions are negligible below 2^50 documents)."""
    return hashlib.blake2b(text_key(text, mode).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def shard_digests(texts: Iterable[str], mode: str = "simple") -> np.ndarray:
    """Digests of one shard's texts, in order, as an ``(n, 2)`` uint64 array (saveable with ``np.save``)."""
    joined = b"".join(digest(text, mode) for text in texts)
    return np.frombuffer(joined, dtype="<u8").reshape(-1, 2).copy()


def cross_shard_duplicates(shards: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Which documents of each shard repeat an earlier one, in (shard, index) order.

    Args:
        shards: The :func:`shard_digests` array of every shard, in shard order.

    Returns:
        For each shard, the sorted indices of its documents to drop.
    """
    sizes = [len(shard) for shard in shards]
    if not sum(sizes):
        return [np.empty(0, dtype=np.int64) for _ in shards]
    digests = np.concatenate(shards)
    owner = np.repeat(np.arange(len(shards)), sizes)
    position = np.concatenate([np.arange(size) for size in sizes])
    _, first = np.unique(digests, axis=0, return_index=True)
    duplicate = np.ones(len(digests), dtype=bool)
    duplicate[first] = False
    return [np.sort(position[duplicate & (owner == shard)]) for shard in range(len(shards))]


class ExactDedup(DedupStep):
    """Drops documents whose text repeats an earlier one in the same shard.

    Memory: one 16-byte digest per distinct document seen. In a sharded build (see
    :class:`~lemur.data.steps.base.DedupStep`) the keys are the digests, and the first
    occurrence over all shards is kept.

    Args:
        mode: ``simple`` (default: case and whitespace do not matter) or ``exact``.

    Raises:
        ConfigError: Unknown ``mode``.
    """

    name = "exact-dedup"
    drop_reason = "exact_duplicate"

    def __init__(self, mode: Literal["simple", "exact"] = "simple") -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"exact-dedup: mode={mode!r} is not one of {', '.join(MODES)}")
        self.mode = mode

    def keys(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' 16-byte digests as ``(n, 2)`` uint64 rows."""
        return shard_digests(texts, self.mode)

    def duplicate_rows(self, keys: np.ndarray) -> np.ndarray:
        """Rows whose digest equals an earlier row's."""
        return cross_shard_duplicates([keys])[0]

    def run(self, records: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        seen: set[bytes] = set()
        for record in records:
            key = digest(record.text, self.mode)
            if key in seen:
                self.stats["dropped"] += 1
                self.stats["dropped_exact_duplicate"] += 1
                continue
            seen.add(key)
            self.stats["kept"] += 1
            yield record
