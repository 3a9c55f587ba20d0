"""Three-stage sharded MinHash dedup equals the in-memory step on the concatenated shards."""

from __future__ import annotations

import random

import lemur_data_test_realdata as realdata
import pytest

from lemur.core.errors import LemurError
from lemur.data.records import Document
from lemur.data.steps.minhash import MinhashDedup
from lemur.data.steps.minhash_sharded import MinhashFilter, MinhashSignatures, cluster_shards


def test_sharded_dedup_matches_in_memory_dedup(tmp_path, stdlib_texts, enwiki_articles):
    items = list(stdlib_texts.items())[:60] + list(enwiki_articles.items())[:40]
    rng = random.Random(3)
    vocabulary = sorted({w for _, text in items[:20] for w in text.split()})
    copies = [
        (f"copy:{name}", realdata.edit_words(text, 0.01, vocabulary, rng)) for name, text in rng.sample(items, 15)
    ]
    everything = items + copies
    rng.shuffle(everything)
    shards = [everything[i::3] for i in range(3)]

    def documents(rank):
        return [Document(name, text) for name, text in shards[rank]]

    signer = MinhashSignatures(tmp_path)
    for rank in range(3):
        assert [d.id for d in signer.run(documents(rank), rank, 3)] == [n for n, _ in shards[rank]]
    with pytest.raises(LemurError, match="shard 3 has no signatures"):
        cluster_shards(tmp_path, 4)
    dropped = cluster_shards(tmp_path, 3)
    kept = [d.id for rank in range(3) for d in MinhashFilter(tmp_path).run(documents(rank), rank, 3)]

    concatenated = [Document(n, t) for rank in range(3) for n, t in shards[rank]]
    reference = [d.id for d in MinhashDedup().run(concatenated)]
    assert kept == reference
    assert sum(len(d) for d in dropped.values()) >= 14

    rerun = MinhashSignatures(tmp_path)
    assert len(list(rerun.run(documents(0), 0, 3))) == len(shards[0])
    assert rerun.stats["shard_already_signed"] == 1


def test_filter_without_cluster_stage_is_an_error(tmp_path):
    with pytest.raises(LemurError, match="run cluster_shards first"):
        list(MinhashFilter(tmp_path).run([Document("a", "text")]))
