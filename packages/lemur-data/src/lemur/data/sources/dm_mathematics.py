"""DeepMind Mathematics (Saxton et al., 2019) from its versioned release tarball, streamed.

The publisher serves one versioned file, ``mathematics_dataset-v1.0.tar.gz``, on Google Cloud
Storage. Inside, ``mathematics_dataset-v1.0/<split>/<module>.txt`` alternates a question line
and its answer line. Splits: ``train-easy``, ``train-medium``, ``train-hard`` (training data),
``interpolate`` and ``extrapolate`` (test data). Each question/answer pair is one document,
``"<question>\\n<answer>"``.

The publisher gives no checksum for the tarball: its SHA-256 is recorded in the manifest the
first time it is read to the end and checked on every later read (pass ``sha256=`` to pin a
digest you verified yourself). The tarball is read as a stream (about 2 GB), so every shard
reads all of it and keeps the ``.txt`` members whose position is its shard modulo ``num_shards``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lemur.core.errors import LemurError
from lemur.data.records import Document
from lemur.data.sources.base import DataSource
from lemur.data.sources.remote import ChecksumManifest, VerifiedStream, default_data_dir

#: The versioned release tarball.
URL = "https://storage.googleapis.com/mathematics-dataset/mathematics_dataset-v1.0.tar.gz"
#: Its place in a data directory (or mirror).
PATH = "mathematics-dataset/mathematics_dataset-v1.0.tar.gz"
#: The tarball's top directory.
TOP = "mathematics_dataset-v1.0"
#: The training splits (the default).
TRAIN_SPLITS = ("train-easy", "train-medium", "train-hard")
SPLITS = (*TRAIN_SPLITS, "interpolate", "extrapolate")


def _as_tuple(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(item for item in value.split(",") if item) if isinstance(value, str) else tuple(value)


class DMMathematicsSource(DataSource):
    """Question/answer pairs of DeepMind Mathematics v1.0, one document each.

    Args:
        splits: Splits to read (default: the three training splits); a list or ``a,b``.
        modules: Modules to read (``algebra__linear_1d``); default all.
        url: Where the tarball is served.
        sha256: The tarball's SHA-256, when you pin one yourself.
        mirror: A local data directory holding ``mathematics-dataset/mathematics_dataset-v1.0.tar.gz``;
            when given, nothing is downloaded.
        manifest: Where the tarball's SHA-256 is recorded; default ``<data_dir>/mathematics-dataset/sha256.jsonl``.
        shard: Which shard of the members to read (``0 <= shard < num_shards``).
        num_shards: Into how many shards the members are split.

    Raises:
        LemurError: An unknown split, bad shard numbers, or a member with an odd number of lines.
        DataFileError: The tarball cannot be read, or its checksum differs from the pinned one.
    """

    name = "dm-mathematics"

    def __init__(
        self,
        splits: str | list[str] | None = None,
        modules: str | list[str] | None = None,
        url: str = URL,
        sha256: str | None = None,
        mirror: str | Path | None = None,
        manifest: str | Path | None = None,
        shard: int = 0,
        num_shards: int = 1,
    ) -> None:
        self.splits = _as_tuple(splits) or TRAIN_SPLITS
        unknown = [split for split in self.splits if split not in SPLITS]
        if unknown:
            raise LemurError(f"dm-mathematics source: unknown split {unknown[0]!r}; splits are {', '.join(SPLITS)}")
        self.modules = _as_tuple(modules)
        self.shard, self.num_shards = int(shard), int(num_shards)
        if not 0 <= self.shard < self.num_shards:
            raise LemurError(f"dm-mathematics source: shard must be in [0, num_shards={self.num_shards}), got {shard}")
        self.url, self.sha256, self.mirror = url, sha256, mirror
        self.manifest = ChecksumManifest(manifest or default_data_dir() / "mathematics-dataset" / "sha256.jsonl")

    def _wanted(self, name: str) -> tuple[str, str] | None:
        parts = name.split("/")
        if len(parts) != 3 or parts[0] != TOP or not parts[2].endswith(".txt") or parts[1] not in self.splits:
            return None
        module = parts[2].removesuffix(".txt")
        return (parts[1], module) if self.modules is None or module in self.modules else None

    def __iter__(self) -> Iterator[Document]:
        import tarfile

        stream = VerifiedStream(self.url, PATH, mirror=self.mirror, expected=self.sha256, manifest=self.manifest)
        with stream, tarfile.open(fileobj=stream, mode="r|gz") as archive:
            position = -1
            for member in archive:
                wanted = self._wanted(member.name) if member.isfile() else None
                if wanted is None:
                    continue
                position += 1
                if position % self.num_shards != self.shard:
                    continue
                split, module = wanted
                lines = (line.decode("utf-8").rstrip("\r\n") for line in archive.extractfile(member))
                for pair, question in enumerate(lines):
                    answer = next(lines, None)
                    if answer is None:
                        raise LemurError(f"{member.name}: odd number of lines; expected question/answer pairs")
                    metadata = {"split": split, "module": module, "file": member.name}
                    yield Document(f"{split}/{module}:{pair}", f"{question}\n{answer}", metadata)
            stream.drain()
