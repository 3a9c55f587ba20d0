"""Near-duplicate detection: MinHash signatures and banded LSH, vectorised in NumPy.

The scheme (shared by every function here, so signatures from different shards or runs
with the same :class:`MinhashConfig` are comparable):

1. *Simplify* a text: lower-case it; bytes that are ASCII letters, digits, ``_`` or
   non-ASCII (UTF-8 continuation of any script) form words, everything else separates them.
2. *Hash words* with a polynomial hash over their UTF-8 bytes, computed for a whole batch
   at once from one running sum (``P`` is odd, so ``P^-start`` exists modulo 2^64), then mixed
   with the SplitMix64 finaliser.
3. *Shingle*: every run of ``shingle_size`` consecutive words of a document is one shingle
   (a document with fewer words has one shingle made of all of them).
4. *Sign*: for each of ``num_perm`` seeded pairs ``(a odd, b)``, a document's value is the
   minimum over its shingles of ``(a * h + b) mod 2^64``; the signature keeps its top 32 bits.
5. *Band*: ``bands`` groups of ``rows`` values; two documents sharing any whole band are
   candidates. The probability that two documents with Jaccard similarity ``J`` become
   candidates is ``1 - (1 - J**rows) ** bands`` (0.924 at J = 0.8 with 14 x 8).
6. *Cluster* candidate pairs with union-find (optionally only pairs whose estimated Jaccard,
   the fraction of equal signature values, reaches ``verify_threshold``) and keep the first
   document of each cluster in input order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from lemur.core.errors import ConfigError
from lemur.data.records import Document
from lemur.data.steps.base import DedupStep

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_POLY = 0x100000001B3  # odd, so it has an inverse modulo 2^64
_POLY_INV = pow(_POLY, -1, 1 << 64)
_SHINGLE_MUL = _U64(0x9E3779B97F4A7C15)
_WORD_BYTES = np.zeros(256, dtype=bool)
_WORD_BYTES[ord("0") : ord("9") + 1] = True
_WORD_BYTES[ord("a") : ord("z") + 1] = True
_WORD_BYTES[ord("_")] = True
_WORD_BYTES[0x80:] = True
#: Every value of the signature of a text without words.
EMPTY_VALUE = np.iinfo(np.uint32).max


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on a uint64 array (a bijection that spreads every bit)."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


@dataclasses.dataclass(frozen=True)
class MinhashConfig:
    """Parameters of MinHash-LSH near-duplicate detection.

    Attributes:
        shingle_size: Words per shingle (datatrove and text-dedup use 5).
        num_perm: Signature length (hash functions); at least ``bands * rows``.
        bands: LSH bands.
        rows: Signature values per band.
        seed: Seed of the hash functions; equal seeds give equal signatures.
        verify_threshold: When set, a candidate pair is only merged if the fraction of equal
            signature values (an estimate of Jaccard similarity) is at least this.
    """

    shingle_size: int = 5
    num_perm: int = 112
    bands: int = 14
    rows: int = 8
    seed: int = 1
    verify_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.shingle_size < 1:
            raise ConfigError(f"minhash: shingle_size={self.shingle_size} must be at least 1")
        if self.bands < 1 or self.rows < 1:
            raise ConfigError(f"minhash: bands={self.bands} and rows={self.rows} must be at least 1")
        if self.bands * self.rows > self.num_perm:
            raise ConfigError(
                f"minhash: bands * rows = {self.bands} * {self.rows} = {self.bands * self.rows} "
                f"exceeds num_perm={self.num_perm}"
            )
        if self.verify_threshold is not None and not 0.0 <= self.verify_threshold <= 1.0:
            raise ConfigError(f"minhash: verify_threshold={self.verify_threshold} must be within [0, 1]")

    def candidate_probability(self, jaccard: float) -> float:
        """The probability that two documents with this Jaccard similarity share a band."""
        return 1.0 - (1.0 - jaccard**self.rows) ** self.bands


class MinHasher:
    """Computes MinHash signatures of texts in vectorised batches.

    Args:
        config: Shingling and hashing parameters.
        block_rows: Shingles hashed per NumPy block; bounds memory at about
            ``block_rows * num_perm * 8`` bytes.
        chunk_chars: Characters of text hashed per vectorised pass (about 40 bytes of
            temporary memory per character).
    """

    def __init__(self, config: MinhashConfig | None = None, block_rows: int = 2048, chunk_chars: int = 1 << 19) -> None:
        self._chunk_chars = chunk_chars
        self.config = config or MinhashConfig()
        rng = np.random.default_rng(self.config.seed)
        self._mul = rng.integers(0, 1 << 63, self.config.num_perm, dtype=np.uint64) * _U64(2) + _U64(1)
        self._add = rng.integers(0, 1 << 63, self.config.num_perm, dtype=np.uint64)
        self._block_rows = block_rows
        self._powers = np.ones(1, dtype=np.uint64)
        self._inverse_powers = np.ones(1, dtype=np.uint64)

    def _ensure_powers(self, size: int) -> None:
        if len(self._powers) >= size:
            return
        size = max(size, 2 * len(self._powers))
        self._powers = np.cumprod(np.full(size, _POLY, dtype=np.uint64), dtype=np.uint64) * _U64(_POLY_INV)
        self._inverse_powers = np.cumprod(np.full(size, _POLY_INV, dtype=np.uint64), dtype=np.uint64) * _U64(_POLY)

    def word_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Hash every word of ``texts``.

        Returns:
            ``(hashes, doc)``: uint64 word hashes in reading order and, for each, the index of
            its text in ``texts``.
        """
        encoded = [text.lower().encode("utf-8", "replace") for text in texts]
        lengths = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded))
        data = np.frombuffer(b" ".join(encoded) + b" ", dtype=np.uint8)
        doc_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        is_word = _WORD_BYTES[data]
        edges = np.diff(is_word.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)
        self._ensure_powers(len(data) + 1)
        running = np.empty(len(data) + 1, dtype=np.uint64)
        running[0] = 0
        np.cumsum(data.astype(np.uint64) * self._powers[: len(data)], dtype=np.uint64, out=running[1:])
        sums = (running[ends] - running[starts]) * self._inverse_powers[starts]
        hashes = _mix64(sums ^ (ends - starts).astype(np.uint64) * _SHINGLE_MUL)
        doc = np.searchsorted(doc_starts, starts, side="right") - 1
        return hashes, doc

    def shingle_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Hash every shingle of ``texts``.

        Returns:
            ``(hashes, doc)`` as in :meth:`word_hashes`, grouped by text in order; a text with
            no word has no shingle.
        """
        words, doc = self.word_hashes(texts)
        size = self.config.shingle_size
        counts = np.bincount(doc, minlength=len(texts))
        if size == 1 or len(words) == 0:
            return words, doc
        last = len(words) - size + 1
        if last > 0:
            acc = words[:last].copy()
            for offset in range(1, size):
                acc = acc * _SHINGLE_MUL + words[offset : last + offset]
            acc = _mix64(acc)
            same_doc = doc[:last] == doc[size - 1 :]
            hashes, hash_doc = acc[same_doc], doc[:last][same_doc]
        else:
            hashes, hash_doc = np.empty(0, np.uint64), np.empty(0, np.int64)
        short = np.flatnonzero((counts > 0) & (counts < size))
        if len(short) == 0:
            return hashes, hash_doc
        first_word = np.concatenate(([0], np.cumsum(counts)[:-1]))
        combined = []
        for index in short.tolist():
            acc = 0
            for word in words[first_word[index] : first_word[index] + counts[index]].tolist():
                acc = (acc * int(_SHINGLE_MUL) + word) & _MASK64
            combined.append(acc)
        extra = _mix64(np.array(combined, dtype=np.uint64))
        hashes = np.concatenate((hashes, extra))
        hash_doc = np.concatenate((hash_doc, short))
        order = np.argsort(hash_doc, kind="stable")
        return hashes[order], hash_doc[order]

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """MinHash signatures of ``texts``: a ``(len(texts), num_perm)`` uint32 array.

        Texts are processed in groups of about ``chunk_chars`` characters, so temporary
        arrays stay small whatever the number of texts. A text without any word gets the
        all-``0xFFFFFFFF`` signature; such texts are never reported as near-duplicates.
        """
        parts, start, size = [], 0, 0
        for end, text in enumerate(texts, start=1):
            size += len(text)
            if size >= self._chunk_chars or end == len(texts):
                parts.append(self._signatures(texts[start:end]))
                start, size = end, 0
        if not parts:
            return np.empty((0, self.config.num_perm), dtype=np.uint32)
        return np.concatenate(parts)

    def _signatures(self, texts: Sequence[str]) -> np.ndarray:
        hashes, doc = self.shingle_hashes(texts)
        num_perm = self.config.num_perm
        minima = np.full((len(texts), num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
        block = np.empty((self._block_rows, num_perm), dtype=np.uint64)
        for begin in range(0, len(hashes), self._block_rows):
            chunk, chunk_doc = hashes[begin : begin + self._block_rows], doc[begin : begin + self._block_rows]
            values = block[: len(chunk)]
            np.multiply(chunk[:, None], self._mul[None, :], out=values)
            values += self._add
            firsts = np.flatnonzero(np.diff(chunk_doc, prepend=-1))
            docs = chunk_doc[firsts]
            minima[docs] = np.minimum(minima[docs], np.minimum.reduceat(values, firsts, axis=0))
        signatures = (minima >> _U64(32)).astype(np.uint32)
        empty = np.bincount(doc, minlength=len(texts)) == 0
        signatures[empty] = EMPTY_VALUE
        return signatures


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 key per (document, band): equal bands give equal keys.

    Returns:
        A ``(len(signatures), bands)`` uint64 array.
    """
    keys = np.zeros((len(signatures), bands), dtype=np.uint64)
    for row in range(rows):
        keys = _mix64(keys * _SHINGLE_MUL + signatures[:, row::rows][:, :bands].astype(np.uint64))
    return keys


def bucket_pairs(keys: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Pairs ``(head, member)`` of documents with equal ``keys``: each bucket's first document with every other.

    Args:
        keys: One band key per document.
        docs: The documents' indices, parallel to ``keys``.
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys, sorted_docs = keys[order], docs[order]
    starts = np.flatnonzero(np.diff(sorted_keys, prepend=sorted_keys[:1] + _U64(1)))
    heads = np.repeat(sorted_docs[starts], np.diff(np.append(starts, len(sorted_docs))))
    member = sorted_docs != heads
    return np.stack((heads[member], sorted_docs[member]), axis=1).astype(np.int64)


def candidate_pairs(signatures: np.ndarray, config: MinhashConfig) -> np.ndarray:
    """Pairs of documents that share at least one band, as an ``(n, 2)`` int64 array ``i < j``.

    Within each band, every document of a bucket is paired with the bucket's first document,
    which is enough for connected components. Documents without words are never paired.
    """
    keys = band_keys(signatures, config.bands, config.rows)
    docs = np.flatnonzero(~np.all(signatures == EMPTY_VALUE, axis=1))
    pairs = [bucket_pairs(keys[docs, band], docs) for band in range(config.bands)]
    found = np.unique(np.concatenate(pairs), axis=0) if pairs else np.empty((0, 2), dtype=np.int64)
    return np.sort(found, axis=1) if len(found) else found


def estimated_jaccard(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The fraction of equal signature values of each pair: an unbiased Jaccard estimate."""
    if len(pairs) == 0:
        return np.empty(0)
    return np.mean(signatures[pairs[:, 0]] == signatures[pairs[:, 1]], axis=1)


def cluster_roots(count: int, pairs: np.ndarray) -> np.ndarray:
    """Union-find over ``pairs``: for each of ``count`` items, the smallest index of its cluster."""
    parent = list(range(count))

    def find(item: int) -> int:
        root = item
        while parent[root] != root:
            root = parent[root]
        while parent[item] != root:
            parent[item], item = root, parent[item]
        return root

    for first, second in pairs.tolist():
        root_a, root_b = find(first), find(second)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    return np.fromiter((find(item) for item in range(count)), dtype=np.int64, count=count)


def near_duplicate_roots(signatures: np.ndarray, config: MinhashConfig) -> np.ndarray:
    """For each document, the first (lowest-index) document of its near-duplicate cluster."""
    pairs = candidate_pairs(signatures, config)
    if config.verify_threshold is not None and len(pairs):
        pairs = pairs[estimated_jaccard(signatures, pairs) >= config.verify_threshold]
    return cluster_roots(len(signatures), pairs)


class MinhashDedup(DedupStep):
    """Drops near-duplicate documents of one shard, keeping the first of each cluster.

    In a sharded build (see :class:`~lemur.data.steps.base.DedupStep`) the keys are the
    signatures and the clusters span all shards.

    The shard's documents are held in memory until all are signed (signatures cost
    ``4 * num_perm`` bytes per document). Kept documents that had near-duplicates get
    ``metadata["near_duplicates"]`` (how many were dropped for them).

    Args:
        shingle_size, num_perm, bands, rows, seed, verify_threshold: See :class:`MinhashConfig`.
        batch_size: Documents signed per vectorised batch.

    Raises:
        ConfigError: Inconsistent parameters (e.g. ``bands * rows > num_perm``).
    """

    name = "minhash-dedup"
    drop_reason = "near_duplicate"

    def __init__(
        self,
        shingle_size: int = 5,
        num_perm: int = 112,
        bands: int = 14,
        rows: int = 8,
        seed: int = 1,
        verify_threshold: float | None = None,
        batch_size: int = 2000,
    ) -> None:
        super().__init__()
        self.config = MinhashConfig(shingle_size, num_perm, bands, rows, seed, verify_threshold)
        self.batch_size = batch_size

    def keys(self, texts: Sequence[str]) -> np.ndarray:
        """Per text, as uint64 columns: its ``bands`` LSH band keys, 1 if it has no word (else 0) and,
        only with ``verify_threshold``, its ``num_perm`` signature values (``8 * (bands + 1)`` bytes a
        text without verification: 120 with the default 14 bands)."""
        signatures = MinHasher(self.config).signatures(list(texts))
        parts = [
            band_keys(signatures, self.config.bands, self.config.rows),
            np.all(signatures == EMPTY_VALUE, axis=1).astype(np.uint64)[:, None],
        ]
        if self.config.verify_threshold is not None:
            parts.append(signatures.astype(np.uint64))
        return np.hstack(parts)

    def duplicate_rows(self, keys: np.ndarray) -> np.ndarray:
        """Rows that are not the first of their near-duplicate cluster (as :func:`near_duplicate_roots`)."""
        bands = self.config.bands
        docs = np.flatnonzero(keys[:, bands] == 0)
        pairs = [bucket_pairs(keys[docs, band], docs) for band in range(bands)]
        found = np.unique(np.concatenate(pairs), axis=0) if len(docs) else np.empty((0, 2), dtype=np.int64)
        if self.config.verify_threshold is not None and len(found):
            found = found[estimated_jaccard(keys[:, bands + 1 :], found) >= self.config.verify_threshold]
        roots = cluster_roots(len(keys), found)
        return np.flatnonzero(roots != np.arange(len(keys)))

    def run(self, records: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        hasher = MinHasher(self.config)
        kept: list[Document] = []
        parts: list[np.ndarray] = []
        batch: list[Document] = []
        for record in records:
            batch.append(record)
            if len(batch) >= self.batch_size:
                parts.append(hasher.signatures([doc.text for doc in batch]))
                kept.extend(batch)
                batch = []
        if batch:
            parts.append(hasher.signatures([doc.text for doc in batch]))
            kept.extend(batch)
        if not kept:
            return
        roots = near_duplicate_roots(np.concatenate(parts), self.config)
        dropped_for = np.bincount(roots, minlength=len(roots)) - 1
        for index, record in enumerate(kept):
            if roots[index] != index:
                self.stats["dropped"] += 1
                self.stats["dropped_near_duplicate"] += 1
                continue
            self.stats["kept"] += 1
            if dropped_for[index]:
                self.stats["clusters"] += 1
                record.metadata["near_duplicates"] = int(dropped_for[index])
            yield record
