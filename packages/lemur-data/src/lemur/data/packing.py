"""Sequence packing: best-fit decreasing over a window of documents into fixed-length rows.

Each tokenized document is cut into chunks of at most ``seq_len`` tokens (a chunk is its own
segment). Chunks are collected into a window; the window is packed with best-fit decreasing
(longest chunk first, into the open row with the least room that still fits it, else a new
row), which fills rows far better than streaming first-fit. Rows come out as arrays of shape
``[rows, seq_len]``:

- ``tokens``: the ids, 0 on padding;
- ``segment_ids``: 1, 2, 3, ... per chunk within the row, **0 = padding**;
- ``positions``: 0, 1, ... restarting at every segment (RoPE positions);
- ``loss_mask``: 1 on trained tokens, 0 on padding and where the document's own mask is 0.

Attention may connect query ``q`` and key ``k`` of a row only when
``segment_ids[q] == segment_ids[k] != 0`` and ``k <= q`` (see :func:`attention_mask`).
``segments`` records where every chunk went, so rows can be traced back to documents.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np

from lemur.core.errors import LemurError
from lemur.data.steps.base import PipelineStep
from lemur.data.tokenize import TokenizedDocument

#: Columns of :attr:`PackedBatch.segments`.
SEGMENT_COLUMNS = ("row", "segment_id", "document", "offset", "length", "source")


@dataclasses.dataclass(slots=True)
class PackedBatch:
    """Packed rows plus where each chunk came from.

    Attributes:
        tokens: ``[rows, seq_len]`` token ids, 0 on padding.
        segment_ids: ``[rows, seq_len]`` 1-based segment per token, 0 on padding.
        positions: ``[rows, seq_len]`` position within the segment.
        loss_mask: ``[rows, seq_len]`` uint8, 1 where the token is trained on.
        segments: ``[chunks, 6]`` int64 with columns :data:`SEGMENT_COLUMNS`: row (within this
            batch), segment id, document ordinal (arrival order within the packer), token offset
            of the chunk in its document, chunk length, source index.
    """

    tokens: np.ndarray
    segment_ids: np.ndarray
    positions: np.ndarray
    loss_mask: np.ndarray
    segments: np.ndarray

    @property
    def num_rows(self) -> int:
        """How many rows the batch holds."""
        return int(self.tokens.shape[0])


def best_fit_decreasing(lengths: np.ndarray, capacity: int) -> list[list[int]]:
    """Assign items to bins of ``capacity`` with best-fit decreasing.

    Args:
        lengths: Item sizes, each between 1 and ``capacity``.
        capacity: Bin size.

    Returns:
        Bins as lists of item indices, longest item first within each bin.

    Raises:
        LemurError: An item is empty or larger than ``capacity``.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size and (lengths.min() < 1 or lengths.max() > capacity):
        raise LemurError(f"packing: item sizes must be 1..{capacity}, got {lengths.min()}..{lengths.max()}")
    bins: list[list[int]] = []
    # Open bins keyed by remaining room, then bin index: bisect finds the tightest fit.
    stride = len(lengths) + 1
    open_keys: list[int] = []
    for item in np.argsort(-lengths, kind="stable").tolist():
        size = int(lengths[item])
        at = bisect.bisect_left(open_keys, size * stride)
        if at < len(open_keys):
            key = open_keys.pop(at)
            room, index = divmod(key, stride)
        else:
            room, index = capacity, len(bins)
            bins.append([])
        bins[index].append(item)
        if room - size > 0:
            bisect.insort(open_keys, (room - size) * stride + index)
    return bins


def materialize(
    chunks: list[tuple[np.ndarray, np.ndarray | None]], bins: list[list[int]], seq_len: int
) -> tuple[np.ndarray, ...]:
    """Build ``tokens``, ``segment_ids``, ``positions``, ``loss_mask`` and the chunk placement for ``bins``.

    Args:
        chunks: ``(tokens, loss_mask or None)`` per chunk.
        bins: Chunk indices per row (from :func:`best_fit_decreasing`).
        seq_len: Row length.

    Returns:
        ``(tokens, segment_ids, positions, loss_mask, placement)`` where ``placement`` is
        ``[chunks, 3]`` int64 of (chunk index, row, segment id) in row order.
    """
    rows = len(bins)
    order = np.fromiter((c for b in bins for c in b), dtype=np.int64, count=sum(len(b) for b in bins))
    row_of = np.repeat(np.arange(rows, dtype=np.int64), [len(b) for b in bins])
    segment = (
        np.concatenate([np.arange(1, len(b) + 1, dtype=np.int64) for b in bins]) if rows else np.zeros(0, np.int64)
    )
    lengths = np.array([len(chunks[c][0]) for c in order.tolist()], dtype=np.int64)
    starts_in_row = np.zeros(len(order), dtype=np.int64)
    if len(order):
        cumulative = np.cumsum(lengths)
        first_of_row = np.r_[True, row_of[1:] != row_of[:-1]]
        row_base = np.maximum.accumulate(np.where(first_of_row, cumulative - lengths, 0))
        starts_in_row = cumulative - lengths - row_base
    total = int(lengths.sum())
    flat_start = np.repeat(np.cumsum(lengths) - lengths, lengths)
    within = np.arange(total, dtype=np.int64) - flat_start
    dest = np.repeat(row_of * seq_len + starts_in_row, lengths) + within
    tokens = np.zeros(rows * seq_len, dtype=np.int32)
    segment_ids = np.zeros(rows * seq_len, dtype=np.int32)
    positions = np.zeros(rows * seq_len, dtype=np.int32)
    loss_mask = np.zeros(rows * seq_len, dtype=np.uint8)
    if total:
        tokens[dest] = np.concatenate([chunks[c][0] for c in order.tolist()])
        segment_ids[dest] = np.repeat(segment, lengths)
        positions[dest] = within
        loss_mask[dest] = np.concatenate(
            [chunks[c][1] if chunks[c][1] is not None else np.ones(len(chunks[c][0]), np.uint8) for c in order.tolist()]
        )
    shape = (rows, seq_len)
    placement = np.stack([order, row_of, segment], axis=1) if len(order) else np.zeros((0, 3), np.int64)
    return (
        tokens.reshape(shape),
        segment_ids.reshape(shape),
        positions.reshape(shape),
        loss_mask.reshape(shape),
        placement,
    )


def attention_mask(segment_ids: np.ndarray) -> np.ndarray:
    """Boolean ``[seq_len, seq_len]`` mask of one row: causal, within a segment, never on padding."""
    seg = np.asarray(segment_ids)
    same = (seg[:, None] == seg[None, :]) & (seg[:, None] != 0)
    return same & np.tri(len(seg), dtype=bool)


class PackStep(PipelineStep):
    """Pipeline step: :class:`TokenizedDocument` in, :class:`PackedBatch` out (one per window).

    Args:
        seq_len: Row length in tokens (Llama-2: 4096).
        window: Chunks collected before a best-fit-decreasing pass (larger fills better, uses more memory).
        sources: Source names in index order, for the ``source`` column of ``segments``.

    Raises:
        LemurError: ``seq_len`` or ``window`` is below 1.
    """

    name = "pack"

    def __init__(self, seq_len: int = 4096, window: int = 10_000, sources: Iterable[str] = ()):
        super().__init__()
        if seq_len < 1 or window < 1:
            raise LemurError(f"pack: seq_len and window must be at least 1, got seq_len={seq_len}, window={window}")
        self.seq_len = seq_len
        self.window = window
        self.sources = {name: index for index, name in enumerate(sources)}
        self._documents = 0

    def run(self, records: Iterable[TokenizedDocument], rank: int = 0, world_size: int = 1) -> Iterator[PackedBatch]:
        chunks: list[tuple[np.ndarray, np.ndarray | None]] = []
        origin: list[tuple[int, int, int]] = []
        for document in records:
            source = self.sources.setdefault(document.source, len(self.sources))
            for offset in range(0, len(document.tokens), self.seq_len):
                mask = document.loss_mask[offset : offset + self.seq_len] if document.loss_mask is not None else None
                chunks.append((document.tokens[offset : offset + self.seq_len], mask))
                origin.append((self._documents, offset, source))
            self._documents += 1
            if len(chunks) >= self.window:
                yield self._pack(chunks, origin)
                chunks, origin = [], []
        if chunks:
            yield self._pack(chunks, origin)

    def _pack(
        self, chunks: list[tuple[np.ndarray, np.ndarray | None]], origin: list[tuple[int, int, int]]
    ) -> PackedBatch:
        lengths = np.fromiter((len(c[0]) for c in chunks), dtype=np.int64, count=len(chunks))
        keep = np.flatnonzero(lengths > 0)
        kept_chunks = [chunks[i] for i in keep.tolist()]
        bins = best_fit_decreasing(lengths[keep], self.seq_len)
        tokens, segment_ids, positions, loss_mask, placement = materialize(kept_chunks, bins, self.seq_len)
        info = np.asarray(origin, dtype=np.int64).reshape(-1, 3)[keep][placement[:, 0]]
        segments = np.column_stack(
            [placement[:, 1], placement[:, 2], info[:, 0], info[:, 1], lengths[keep][placement[:, 0]], info[:, 2]]
        )
        self.stats["rows"] += len(bins)
        self.stats["tokens"] += int(lengths.sum())
        self.stats["slots"] += len(bins) * self.seq_len
        self.stats["chunks"] += len(kept_chunks)
        return PackedBatch(tokens, segment_ids, positions, loss_mask, segments.astype(np.int64))
