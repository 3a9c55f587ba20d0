"""Input for pre-training: global batches of packed rows, each host reading only its own slice.

Rows come from :class:`lemur.data.shards.PackedDataset` (``tokens``, ``segment_ids``,
``positions``, ``loss_mask``) in its seeded shuffled order. Step ``n`` consumes global
positions ``[n*B, (n+1)*B)``; host ``p`` of ``P`` reads positions ``[n*B + p*B/P, n*B + (p+1)*B/P)``,
so no host touches another host's rows and the union over hosts is the same global batch on
any host count. The position is the whole iterator state: :meth:`PackedBatches.state` after
step ``n`` and :meth:`PackedBatches.restore` continue with exactly step ``n+1``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from lemur.core.errors import ConfigError

FIELDS = ("tokens", "segment_ids", "positions", "loss_mask")


class RowDataset(Protocol):
    """Random-access packed rows with a seeded per-epoch order (``PackedDataset`` is one)."""

    seq_len: int

    def __len__(self) -> int: ...

    def __getitem__(self, row: int) -> dict[str, np.ndarray]: ...

    def order(self, seed: int, epoch: int = 0) -> np.ndarray: ...


class PackedBatches:
    """An endless iterator of this host's slice of each global batch, resumable by position.

    Args:
        dataset: The rows.
        global_batch_size: Rows per optimizer step over all hosts (micro-batches included).
        seed: Seed of the row order.
        process_index: This host's index (``jax.process_index()``).
        process_count: Number of hosts (``jax.process_count()``).

    Raises:
        ConfigError: The batch does not split evenly over hosts, or the dataset is empty.
    """

    def __init__(
        self, dataset: RowDataset, global_batch_size: int, seed: int = 0, process_index: int = 0, process_count: int = 1
    ):
        if global_batch_size % process_count:
            raise ConfigError(
                f"train: batch_size {global_batch_size} must be a multiple of the {process_count} processes"
            )
        if len(dataset) == 0:
            raise ConfigError("train: the packed dataset has no rows")
        self.dataset = dataset
        self.global_batch_size = global_batch_size
        self.seed = seed
        self.process_index = process_index
        self.process_count = process_count
        self.position = 0
        self._order_epoch = -1
        self._order: np.ndarray | None = None

    @property
    def local_batch_size(self) -> int:
        """Rows this host reads per step."""
        return self.global_batch_size // self.process_count

    def _row(self, position: int) -> dict[str, np.ndarray]:
        epoch, offset = divmod(position, len(self.dataset))
        if epoch != self._order_epoch:
            self._order, self._order_epoch = self.dataset.order(self.seed, epoch), epoch
        assert self._order is not None
        return self.dataset[int(self._order[offset])]

    def __iter__(self) -> PackedBatches:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        """This host's rows of the next global batch: int32 arrays ``[local_batch, seq_len]`` per field."""
        start = self.position + self.process_index * self.local_batch_size
        rows = [self._row(p) for p in range(start, start + self.local_batch_size)]
        self.position += self.global_batch_size
        return {name: np.stack([row[name] for row in rows]).astype(np.int32) for name in FIELDS}

    def state(self) -> dict[str, Any]:
        """The position to resume from (JSON-able)."""
        return {"position": self.position, "seed": self.seed, "rows": len(self.dataset)}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state`.

        Raises:
            ConfigError: The state was saved with another seed or over a different dataset.
        """
        if state.get("seed") != self.seed or state.get("rows") != len(self.dataset):
            raise ConfigError(
                f"train: checkpoint data state {state} does not match this run (seed {self.seed}, "
                f"{len(self.dataset)} rows); resume with the same data and seed"
            )
        self.position = int(state["position"])


def model_inputs(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add next-token ``targets`` and ``weights`` to a packed batch.

    The prediction at position ``t`` targets token ``t+1`` and counts only where token ``t+1``
    has ``loss_mask`` 1 and belongs to the same (non-padding) segment as token ``t``; the last
    position predicts nothing.
    """
    tokens, segments, mask = batch["tokens"], batch["segment_ids"], batch["loss_mask"]
    targets = np.zeros_like(tokens)
    targets[:, :-1] = tokens[:, 1:]
    weights = np.zeros(tokens.shape, dtype=np.float32)
    same = (segments[:, 1:] == segments[:, :-1]) & (segments[:, 1:] != 0)
    weights[:, :-1] = (mask[:, 1:] != 0) & same
    return {
        "tokens": tokens,
        "positions": batch["positions"],
        "segment_ids": segments,
        "targets": targets,
        "weights": weights,
    }
