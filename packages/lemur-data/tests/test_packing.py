"""Packing: rows round-trip to the token streams, no attention crosses a segment, rows are full."""

from __future__ import annotations

import numpy as np
import pytest

from lemur.core.errors import LemurError
from lemur.data.packing import PackStep, attention_mask, best_fit_decreasing
from lemur.data.records import Document
from lemur.data.tokenize import TokenizedDocument, TokenizeStep


@pytest.fixture(scope="module")
def stdlib_tokens(llama_tokenizer_path, stdlib_sources) -> list[TokenizedDocument]:
    """Every top-level stdlib module tokenized with Llama-2 (about 1.4 M tokens)."""
    documents = [Document(p.name, p.read_text(encoding="utf-8"), {"source": "python"}) for p in stdlib_sources]
    return list(TokenizeStep(llama_tokenizer_path).run(documents))


def reassemble(batches, count: int) -> list[list[int]]:
    """Rebuild each document's token stream from the rows, using only the segment table."""
    pieces: list[list[tuple[int, list[int]]]] = [[] for _ in range(count)]
    for batch in batches:
        for row, segment, document, offset, length, _source in batch.segments.tolist():
            where = np.flatnonzero(batch.segment_ids[row] == segment)
            assert len(where) == length and np.array_equal(where, where[0] + np.arange(length))
            pieces[document].append((offset, batch.tokens[row, where].tolist()))
    return [[t for _, chunk in sorted(p) for t in chunk] for p in pieces]


def test_best_fit_decreasing_places_every_item_once_within_capacity() -> None:
    lengths = np.random.default_rng(0).integers(1, 100, size=500)
    bins = best_fit_decreasing(lengths, 100)
    assert sorted(i for b in bins for i in b) == list(range(500))
    assert max(lengths[b].sum() for b in bins) <= 100
    assert len(bins) <= int(np.ceil(lengths.sum() / 100 * 1.25))  # BFD is within 11/9 OPT + 1


def test_best_fit_decreasing_rejects_oversized_items() -> None:
    with pytest.raises(LemurError, match="1..10"):
        best_fit_decreasing(np.array([3, 11]), 10)


def test_rows_round_trip_to_original_token_streams(stdlib_tokens) -> None:
    step = PackStep(seq_len=1024, window=2000)
    batches = list(step.run(stdlib_tokens))
    rebuilt = reassemble(batches, len(stdlib_tokens))
    for original, tokens in zip(stdlib_tokens, rebuilt, strict=True):
        assert tokens == original.tokens.tolist(), original.id
    assert step.stats["tokens"] == sum(len(d.tokens) for d in stdlib_tokens)


def test_no_attention_crosses_a_segment(stdlib_tokens) -> None:
    batch = next(PackStep(seq_len=512, window=500).run(stdlib_tokens[:40]))
    owner = {(r, s): d for r, s, d, *_ in batch.segments.tolist()}
    multi = [r for r in range(batch.num_rows) if batch.segment_ids[r].max() > 1][:8]
    assert multi, "expected rows holding several documents"
    for row in multi:
        seg = batch.segment_ids[row]
        allowed = attention_mask(seg)
        document = np.array([owner.get((row, int(s)), -1) if s else -1 for s in seg])
        q, k = np.nonzero(allowed)
        assert (k <= q).all()
        assert (document[q] == document[k]).all() and (seg[q] == seg[k]).all() and (seg[q] > 0).all()
        sizes = np.bincount(seg[seg > 0])
        assert allowed.sum() == int((sizes * (sizes + 1) // 2).sum())  # full causal block per segment


def test_positions_restart_and_padding_is_masked(stdlib_tokens) -> None:
    for batch in PackStep(seq_len=777, window=300).run(stdlib_tokens[:60]):
        for row in range(batch.num_rows):
            seg, pos = batch.segment_ids[row], batch.positions[row]
            starts = np.r_[True, seg[1:] != seg[:-1]]
            expected = np.arange(len(seg)) - np.maximum.accumulate(np.where(starts, np.arange(len(seg)), 0))
            assert np.array_equal(pos[seg > 0], expected[seg > 0])
            assert not batch.loss_mask[row][seg == 0].any() and not batch.tokens[row][seg == 0].any()
            assert batch.loss_mask[row][seg > 0].all()


def test_sft_loss_mask_is_carried_into_rows() -> None:
    mask = np.array([0, 0, 1, 1, 1], dtype=np.uint8)
    docs = [
        TokenizedDocument("a", np.arange(10, 15, dtype=np.int32), mask),
        TokenizedDocument("b", np.arange(3, 6, dtype=np.int32)),
    ]
    batch = next(PackStep(seq_len=8, window=10).run(docs))
    row = batch.tokens[0].tolist()
    assert row[:5] == [10, 11, 12, 13, 14] and batch.loss_mask[0].tolist() == [0, 0, 1, 1, 1, 1, 1, 1]


def test_fill_rate_at_4096_on_real_code(stdlib_tokens) -> None:
    step = PackStep(seq_len=4096, window=10_000)
    list(step.run(stdlib_tokens))
    assert step.stats["tokens"] / step.stats["slots"] >= 0.99
