"""Memory-mapped token shards: the packed rows the trainers read.

Format (version 1). A shard is a directory holding raw little-endian C-order arrays, one
row of ``seq_len`` values after another, and an index:

- ``tokens.bin``       ``[rows, seq_len]`` token ids, uint16 when the vocabulary has at most
  65,536 entries, else uint32; 0 on padding;
- ``segment_ids.bin``  ``[rows, seq_len]`` uint16 (uint32 when ``seq_len`` > 65,535); 0 = padding;
- ``positions.bin``    ``[rows, seq_len]`` same dtype as segment ids; position within the segment;
- ``loss_mask.bin``    ``[rows, seq_len]`` uint8; 1 where the token is trained on;
- ``segments.bin``     ``[chunks, 6]`` int64 (row, segment id, document ordinal, offset in the
  document, length, source index): where every chunk of every document went;
- ``index.json``       ``{"format": "lemur-packed", "version": 1, "rows", "seq_len", "chunks",
  "dtypes": {file stem: dtype}, "sources": [names by index], "tokens": {source: real tokens},
  "sha256": {file name: hex digest}, "metadata": {...}}``.

A writer fills ``<name>.partial/`` and renames it to ``<name>/`` only after the index is
written, so a shard directory that exists is complete. A dataset is any directory tree of
shards; :class:`PackedDataset` opens them in sorted path order, gives random row access, and
iterates rows in a seeded shuffled order that can resume from any position.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lemur.core.errors import LemurError
from lemur.data.packing import PackedBatch

FORMAT = "lemur-packed"
VERSION = 1
ROW_FIELDS = ("tokens", "segment_ids", "positions", "loss_mask")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ShardWriter:
    """Appends :class:`PackedBatch` rows to one shard; :meth:`close` makes it visible.

    Args:
        path: The shard directory to create (must not exist yet).
        seq_len: Row length in tokens.
        vocab_size: Size of the tokenizer's vocabulary (chooses uint16 or uint32 tokens).
        sources: Source names by index (the ``source`` column of ``segments``).
        metadata: Free-form JSON-able facts stored in the index (tokenizer, recipe, seed).

    Raises:
        LemurError: ``path`` already exists.
    """

    def __init__(
        self,
        path: str | Path,
        seq_len: int,
        vocab_size: int,
        sources: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        self.path = Path(path)
        if self.path.exists():
            raise LemurError(f"shard {self.path} already exists; remove it or write elsewhere")
        self.seq_len = seq_len
        self.sources = list(sources or [])
        self.metadata = dict(metadata or {})
        position_dtype = np.uint16 if seq_len <= 65535 else np.uint32
        self.dtypes = {
            "tokens": np.dtype(np.uint16 if vocab_size <= 65536 else np.uint32),
            "segment_ids": np.dtype(position_dtype),
            "positions": np.dtype(position_dtype),
            "loss_mask": np.dtype(np.uint8),
            "segments": np.dtype("<i8"),
        }
        self.staging = self.path.with_name(self.path.name + ".partial")
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        self.files = {name: open(self.staging / f"{name}.bin", "wb") for name in self.dtypes}
        self.rows = 0
        self.chunks = 0
        self.tokens_per_source: dict[str, int] = {}

    def write(self, batch: PackedBatch, source_names: list[str] | None = None) -> None:
        """Append the rows of ``batch``; ``source_names`` maps its source indices to names (default: ours)."""
        if batch.tokens.shape[1] != self.seq_len:
            raise LemurError(f"shard {self.path}: row length {batch.tokens.shape[1]} != seq_len {self.seq_len}")
        segments = batch.segments.copy()
        segments[:, 0] += self.rows
        if source_names is not None:
            remap = np.array([self._source_index(name) for name in source_names] or [0], dtype=np.int64)
            segments[:, 5] = remap[segments[:, 5]]
        for name in ROW_FIELDS:
            self.files[name].write(np.ascontiguousarray(getattr(batch, name), dtype=self.dtypes[name]).tobytes())
        self.files["segments"].write(np.ascontiguousarray(segments, dtype=self.dtypes["segments"]).tobytes())
        for index in np.unique(segments[:, 5]).tolist():
            name = self.sources[index] if index < len(self.sources) else str(index)
            self.tokens_per_source[name] = self.tokens_per_source.get(name, 0) + int(
                segments[segments[:, 5] == index, 4].sum()
            )
        self.rows += batch.num_rows
        self.chunks += len(segments)

    def _source_index(self, name: str) -> int:
        if name not in self.sources:
            self.sources.append(name)
        return self.sources.index(name)

    def close(self) -> dict[str, Any]:
        """Flush, checksum, write ``index.json`` and publish the shard; returns the index."""
        for handle in self.files.values():
            handle.close()
        index = {
            "format": FORMAT,
            "version": VERSION,
            "rows": self.rows,
            "seq_len": self.seq_len,
            "chunks": self.chunks,
            "dtypes": {name: dtype.str for name, dtype in self.dtypes.items()},
            "sources": self.sources,
            "tokens": self.tokens_per_source,
            "sha256": {f"{name}.bin": _sha256(self.staging / f"{name}.bin") for name in self.dtypes},
            "metadata": self.metadata,
        }
        (self.staging / "index.json").write_text(json.dumps(index, indent=1), encoding="utf-8")
        self.staging.rename(self.path)
        return index


class PackedShard:
    """One shard opened read-only with memory maps.

    Raises:
        LemurError: The directory has no valid index, or a file's size does not match it.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        index_path = self.path / "index.json"
        try:
            self.index = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise LemurError(f"{index_path}: not a readable shard index ({error})") from None
        if self.index.get("format") != FORMAT or self.index.get("version") != VERSION:
            raise LemurError(f"{index_path}: not a {FORMAT} v{VERSION} shard index")
        self.rows = int(self.index["rows"])
        self.seq_len = int(self.index["seq_len"])
        self.arrays: dict[str, np.ndarray] = {}
        for name, dtype in self.index["dtypes"].items():
            shape = (-1, 6) if name == "segments" else (self.rows, self.seq_len)
            file = self.path / f"{name}.bin"
            expected = (int(self.index["chunks"]) * 6 if name == "segments" else self.rows * self.seq_len) * np.dtype(
                dtype
            ).itemsize
            if not file.is_file() or file.stat().st_size != expected:
                raise LemurError(f"{file}: missing or wrong size (expected {expected} bytes)")
            self.arrays[name] = (
                np.memmap(file, dtype=dtype, mode="r").reshape(shape) if expected else np.zeros((0, *shape[1:]), dtype)
            )

    def verify(self) -> None:
        """Recompute every file's SHA-256 and compare with the index.

        Raises:
            LemurError: A checksum differs (the message names the file).
        """
        for name, digest in self.index["sha256"].items():
            if _sha256(self.path / name) != digest:
                raise LemurError(f"{self.path / name}: checksum mismatch; the shard is corrupt, rebuild it")


class PackedDataset:
    """All shards under a directory (or a list of shard directories) as one sequence of rows.

    Args:
        paths: A directory searched recursively for ``index.json``, or a list of shard directories.

    Raises:
        LemurError: No shard was found, or shards disagree on ``seq_len``.
    """

    def __init__(self, paths: str | Path | list[str | Path]):
        if isinstance(paths, (str, Path)):
            root = Path(paths)
            if (root / "mixture" / "index.json").is_file():
                raise LemurError(
                    f"{root} is a weighted mixture build: read it with lemur.data.mixture.open_dataset "
                    "(or point at one source's directory, sources/<name>)"
                )
            found = sorted(p.parent for p in root.rglob("index.json") if not p.parent.name.endswith(".partial"))
        else:
            found = [Path(p) for p in paths]
        if not found:
            raise LemurError(f"no packed shards (index.json) found under {paths}")
        self.shards = [PackedShard(p) for p in found]
        lengths = {s.seq_len for s in self.shards}
        if len(lengths) != 1:
            raise LemurError(f"shards under {paths} have different seq_len values: {sorted(lengths)}")
        self.seq_len = lengths.pop()
        self.offsets = np.cumsum([0] + [s.rows for s in self.shards])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, row: int) -> dict[str, np.ndarray]:
        """Row ``row`` as int32 arrays ``tokens``, ``segment_ids``, ``positions`` and uint8 ``loss_mask``.

        Raises:
            IndexError: ``row`` is out of range.
        """
        if not -len(self) <= row < len(self):
            raise IndexError(f"row {row} out of range for {len(self)} rows")
        row %= len(self)
        shard_index = int(np.searchsorted(self.offsets, row, side="right")) - 1
        local = row - int(self.offsets[shard_index])
        arrays = self.shards[shard_index].arrays
        return {
            name: np.asarray(arrays[name][local], dtype=np.uint8 if name == "loss_mask" else np.int32)
            for name in ROW_FIELDS
        }

    def order(self, seed: int, epoch: int = 0) -> np.ndarray:
        """The shuffled row order of ``epoch``: a permutation fixed by ``(seed, epoch)``."""
        return np.random.default_rng([seed, epoch]).permutation(len(self))

    def iter_rows(self, seed: int, start: int = 0) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Yield ``(position, row)`` forever in shuffled order, starting at global position ``start``.

        Position ``p`` is row ``order(seed, p // len)[p % len]``, so a trainer that saves the next
        position resumes exactly where it stopped.
        """
        if len(self) == 0:
            return
        position = start
        while True:
            epoch, offset = divmod(position, len(self))
            permutation = self.order(seed, epoch)
            for index in range(offset, len(self)):
                yield position, self[int(permutation[index])]
                position += 1

    def verify(self) -> None:
        """Verify every shard's checksums (see :meth:`PackedShard.verify`)."""
        for shard in self.shards:
            shard.verify()

    def tokens_per_source(self) -> dict[str, int]:
        """Real (non-padding) tokens per source name, summed over shards."""
        totals: dict[str, int] = {}
        for shard in self.shards:
            for name, count in shard.index["tokens"].items():
                totals[name] = totals.get(name, 0) + int(count)
        return totals
