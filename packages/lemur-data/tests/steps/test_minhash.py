"""MinHash-LSH near-duplicate detection on real code and prose with planted copies and edits."""

from __future__ import annotations

import random

import lemur_data_test_realdata as realdata
import numpy as np
import pytest

from lemur.core.errors import ConfigError
from lemur.data.records import Document
from lemur.data.steps.minhash import (
    MinhashConfig,
    MinhashDedup,
    MinHasher,
    candidate_pairs,
    estimated_jaccard,
    near_duplicate_roots,
)

EDIT_FRACTIONS = (0.01, 0.02, 0.03, 0.05)
# Lenient banding (Jaccard threshold about (1/28)^(1/4) = 0.43) with verification at 0.5: catches 5% edits.
LENIENT = MinhashConfig(shingle_size=5, num_perm=112, bands=28, rows=4, verify_threshold=0.5)


@pytest.fixture(scope="module")
def planted(stdlib_texts, enwiki_articles, info_manual_nodes):
    """Real documents (code, Wikipedia, manuals) plus 80 edited copies of random ones."""
    base = [*stdlib_texts.values(), *enwiki_articles.values(), *list(info_manual_nodes.values())[:200]]
    rng = random.Random(7)
    vocabulary = sorted({word for text in base[:60] for word in text.split()})
    originals = rng.sample(range(len(base)), 80)
    copies = [
        realdata.edit_words(base[o], EDIT_FRACTIONS[k % len(EDIT_FRACTIONS)], vocabulary, rng)
        for k, o in enumerate(originals)
    ]
    return base, originals, copies


def _report(name: str, base: list[str], originals: list[int], roots: np.ndarray, config: MinhashConfig) -> tuple:
    """Recall per edit fraction over planted copies, and precision of every merge among real documents."""
    n = len(base)
    found = {f: 0 for f in EDIT_FRACTIONS}
    for k, original in enumerate(originals):
        found[EDIT_FRACTIONS[k % len(EDIT_FRACTIONS)]] += roots[n + k] == roots[original]
    recall = {f: hits / (len(originals) / len(EDIT_FRACTIONS)) for f, hits in found.items()}
    merged = [i for i in range(n) if roots[i] != i]
    true_jaccard = [realdata.exact_jaccard(base[i], base[roots[i]], config.shingle_size) for i in merged]
    false = sum(j < 0.5 for j in true_jaccard)
    planted_true = len(originals) * np.mean(list(recall.values()))
    precision = (planted_true + len(merged) - false) / max(1, planted_true + len(merged))
    print(f"{name}: recall by edit fraction {recall}; precision {precision:.3f}; real near-dups merged {len(merged)}")
    return recall, precision, true_jaccard


def test_lenient_config_finds_planted_edits_and_nothing_unrelated(planted):
    base, originals, copies = planted
    roots = near_duplicate_roots(MinHasher(LENIENT).signatures(base + copies), LENIENT)
    recall, precision, true_jaccard = _report("lenient 28x4", base, originals, roots, LENIENT)
    assert recall[0.01] == recall[0.02] == recall[0.03] == 1.0
    assert recall[0.05] >= 0.9  # a 5% edit of a short text can fall below Jaccard 0.5
    assert precision == 1.0
    assert all(j >= 0.5 for j in true_jaccard)


def test_default_config_follows_the_lsh_curve(planted):
    base, originals, copies = planted
    config = MinhashConfig()
    n = len(base)
    roots = near_duplicate_roots(MinHasher(config).signatures(base + copies), config)
    _, precision, _ = _report("default 14x8", base, originals, roots, config)
    detected = np.array([roots[n + k] == roots[o] for k, o in enumerate(originals)], dtype=float)
    truth = [
        realdata.exact_jaccard(base[o], copy, config.shingle_size) for o, copy in zip(originals, copies, strict=True)
    ]
    expected = np.array([config.candidate_probability(j) for j in truth])
    # Detections are independent Bernoulli draws with the LSH curve's probabilities.
    spread = 3 * np.sqrt(np.sum(expected * (1 - expected))) + 1
    print(f"default 14x8: detected {detected.sum():.0f}, expected {expected.sum():.1f} +- {spread:.1f}")
    assert abs(detected.sum() - expected.sum()) <= spread
    assert precision == 1.0


def test_signature_agreement_estimates_true_jaccard(planted):
    base, originals, copies = planted
    hasher = MinHasher(MinhashConfig(num_perm=256, bands=32, rows=8))
    signatures = hasher.signatures([base[o] for o in originals[:40]] + copies[:40])
    pairs = np.stack((np.arange(40), np.arange(40) + 40), axis=1)
    estimates = estimated_jaccard(signatures, pairs)
    truth = np.array([realdata.exact_jaccard(base[o], c, 5) for o, c in zip(originals[:40], copies[:40], strict=True)])
    # Standard error of the estimate is sqrt(J(1-J)/256) <= 0.032.
    assert np.max(np.abs(estimates - truth)) < 0.11
    assert abs(np.mean(estimates - truth)) < 0.02


def test_signatures_are_deterministic_and_batch_independent(stdlib_texts):
    texts = list(stdlib_texts.values())[:40]
    config = MinhashConfig(seed=3)
    whole = MinHasher(config).signatures(texts)
    pieces = np.concatenate([MinHasher(config, block_rows=997).signatures(texts[i : i + 7]) for i in range(0, 40, 7)])
    assert np.array_equal(whole, pieces)
    assert not np.array_equal(whole, MinHasher(MinhashConfig(seed=4)).signatures(texts))


def test_short_and_empty_texts():
    hasher = MinHasher(MinhashConfig())
    signatures = hasher.signatures(["", "two words", "Two  WORDS!", "!!!", "two words and then three more"])
    assert np.array_equal(signatures[1], signatures[2])
    roots = near_duplicate_roots(signatures, hasher.config)
    assert roots.tolist() == [0, 1, 1, 3, 4]
    assert len(candidate_pairs(signatures[[0, 3]], hasher.config)) == 0


def test_step_keeps_first_of_each_cluster(stdlib_texts):
    texts = list(stdlib_texts.items())[:30]
    records = [Document(name, text) for name, text in texts]
    records.insert(10, Document("copy-of-first", texts[0][1] + "\n# trailing comment\n"))
    step = MinhashDedup()
    kept = list(step.run(records))
    ids = [doc.id for doc in kept]
    assert "copy-of-first" not in ids and ids[0] == texts[0][0]
    assert kept[0].metadata["near_duplicates"] >= 1
    assert step.stats["dropped_near_duplicate"] == step.stats["dropped"] >= 1
    assert step.stats["kept"] + step.stats["dropped"] == len(records)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"bands": 20, "rows": 8, "num_perm": 112}, "exceeds num_perm"),
        ({"shingle_size": 0}, "shingle_size"),
        ({"verify_threshold": 1.5}, "verify_threshold"),
    ],
)
def test_bad_parameters_name_the_field(arguments, message):
    with pytest.raises(ConfigError, match=message):
        MinhashDedup(**arguments)
