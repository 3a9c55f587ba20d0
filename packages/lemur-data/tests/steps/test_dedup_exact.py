"""Exact dedup on real Wikipedia articles with planted copies, in one shard and across shards."""

from __future__ import annotations

import random

import numpy as np
import pytest

from lemur.core.errors import ConfigError
from lemur.data.records import Document
from lemur.data.steps.dedup_exact import ExactDedup, cross_shard_duplicates, digest, shard_digests


def test_planted_copies_are_dropped_and_originals_kept(enwiki_articles):
    articles = list(enwiki_articles.items())
    rng = random.Random(1)
    copies = rng.sample(range(len(articles)), 20)
    records = [Document(title, text) for title, text in articles]
    for index in copies:
        title, text = articles[index]
        variant = text.upper() if index % 2 else "  " + text.replace("\n", "\n\n") + "\n"
        records.append(Document(f"copy:{title}", variant))
    step = ExactDedup()
    kept = list(step.run(records))
    assert [doc.id for doc in kept] == [title for title, _ in articles]
    assert step.stats["dropped_exact_duplicate"] == 20
    strict = ExactDedup(mode="exact")
    assert len(list(strict.run(records))) == len(records)


def test_cross_shard_duplicates_keep_the_first_occurrence(enwiki_articles):
    texts = list(enwiki_articles.values())[:30]
    shards = [texts[:10] + texts[:2], texts[10:20] + [texts[5]], texts[20:] + [texts[15], texts[29]]]
    dropped = cross_shard_duplicates([shard_digests(shard) for shard in shards])
    assert [d.tolist() for d in dropped] == [[10, 11], [10], [10, 11]]
    assert all(len(d) == 0 for d in cross_shard_duplicates([shard_digests(texts[:10]), shard_digests([])]))


def test_digest_ignores_case_and_whitespace_only_in_simple_mode():
    assert digest("Hello  World\n") == digest("hello world")
    assert digest("Hello  World", "exact") != digest("hello world", "exact")
    assert shard_digests(["a", "b"]).shape == (2, 2) and shard_digests(["a"]).dtype == np.uint64


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="mode='fuzzy' is not one of exact, simple"):
        ExactDedup(mode="fuzzy")
