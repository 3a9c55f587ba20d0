"""A corpus published as a list of file URLs (``.jsonl``, ``.jsonl.zst``, ``.jsonl.gz``, ``.parquet``), streamed.

The list is a text file with one URL a line (RedPajama's ``urls.txt``). Every file is read
through :class:`~lemur.data.sources.remote.VerifiedStream`: from the publisher over HTTP, or
from a local mirror laid out like the data directory, checked by SHA-256 when its last byte
is read (see :mod:`lemur.data.sources.remote` for where checksums come from).

Files are the unit of sharding: with ``num_shards=n``, shard ``k`` reads the files whose
position in the (filtered) list is ``k`` modulo ``n``, so parallel readers never fetch the
same file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lemur.core.datafiles import DataFileError
from lemur.core.errors import LemurError, MissingDependencyError
from lemur.data.records import Document
from lemur.data.sources.base import DataSource
from lemur.data.sources.remote import (
    ChecksumManifest,
    VerifiedStream,
    decompressed,
    default_data_dir,
    lookup_checksum,
    parse_sha256sums,
    read_small,
)
from lemur.data.sources.rows import json_lines

#: File suffixes this source reads.
FORMATS = (".jsonl", ".jsonl.zst", ".jsonl.gz", ".parquet")


def _as_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if value is None:
        return []
    return [item for item in value.split(",") if item] if isinstance(value, str) else list(value)


def record_fields(row: dict[str, Any], text_field: str, meta_field: str) -> tuple[str, dict[str, Any]]:
    """The text of a JSON record and its metadata: its ``meta_field`` object (or JSON string) and other fields.

    Raises:
        LemurError: The record has no ``text_field``.
    """
    if text_field not in row:
        raise LemurError(f"no field {text_field!r}")
    metadata: dict[str, Any] = {}
    meta = row.get(meta_field)
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            meta = {meta_field: meta}
    if isinstance(meta, dict):
        metadata.update(meta)
    metadata.update({k: v for k, v in row.items() if k not in (text_field, meta_field)})
    text = row[text_field]
    return "" if text is None else str(text), metadata


class UrlListSource(DataSource):
    """Documents from the files of a published URL list, streamed and checked by SHA-256.

    Args:
        urls: The URL list: its URL, a local file, or the URLs themselves.
        base_url: The prefix every file URL starts with; the rest is the file's path.
            Default: the directory of ``urls``.
        prefix: Where the corpus lives inside a data directory (``redpajama-data-1T/v1.0.0``);
            a file's local path is ``<prefix>/<path>``.
        include: Keep only files whose path starts with one of these (``arxiv/``).
        checksums: URLs (under ``base_url``) of the publisher's ``sha256sum`` lists; every
            file read must be listed in them.
        mirror: A local data directory laid out like the publisher's (``<mirror>/<prefix>/<path>``);
            when given, nothing is downloaded.
        manifest: The JSON-lines file that records the SHA-256 of files the publisher gives no
            checksum for (and of the URL list itself); default ``<data_dir>/<prefix>/sha256.jsonl``.
        expected_files: How many files the list must hold after ``include`` (a pin on the list).
        text_field: The field holding the text.
        meta_field: The field holding an object (or JSON string) of metadata; other fields are
            copied into metadata as well.
        shard: Which shard of the files to read (``0 <= shard < num_shards``).
        num_shards: Into how many shards the files are split.
        retries: How many times a dropped download is resumed before giving up.

    Raises:
        LemurError: Bad shard numbers, an unknown file format, a file count other than
            ``expected_files``, or a record without ``text_field``.
        DataFileError: A file is missing from the mirror, cannot be downloaded, is not in the
            publisher's checksums, or has another checksum than pinned.
    """

    name = "url-list"

    def __init__(
        self,
        urls: str | list[str],
        base_url: str | None = None,
        prefix: str = "",
        include: str | list[str] | None = None,
        checksums: str | list[str] | None = None,
        mirror: str | Path | None = None,
        manifest: str | Path | None = None,
        expected_files: int | None = None,
        text_field: str = "text",
        meta_field: str = "meta",
        shard: int = 0,
        num_shards: int = 1,
        retries: int = 5,
    ) -> None:
        self.shard, self.num_shards = int(shard), int(num_shards)
        if not 0 <= self.shard < self.num_shards:
            raise LemurError(f"url-list source: shard must be in [0, num_shards={self.num_shards}), got {self.shard}")
        list_url = urls if isinstance(urls, str) else None
        self.base_url = (base_url or (list_url.rsplit("/", 1)[0] if list_url else "")).rstrip("/") + "/"
        self.prefix = prefix.strip("/")
        self.mirror = Path(mirror) if mirror is not None else None
        self.manifest = ChecksumManifest(manifest or default_data_dir() / self.prefix / "sha256.jsonl")
        self.text_field, self.meta_field = text_field, meta_field
        self.retries = int(retries)
        self.sums: dict[str, str] | None = None
        for url in _as_list(checksums):
            listed = parse_sha256sums(read_small(url, self.local_path(url), self.mirror, self.manifest))
            self.sums = {**(self.sums or {}), **listed}
        keep = tuple(_as_list(include))
        self.files = [url for url in self._read_list(urls) if not keep or self.relative(url).startswith(keep)]
        if expected_files is not None and len(self.files) != int(expected_files):
            raise LemurError(
                f"url-list source: the list holds {len(self.files)} files under {_as_list(include)}, "
                f"expected {expected_files}; the published list changed"
            )
        for url in self.files:
            if not url.endswith(FORMATS):
                raise LemurError(f"url-list source: {url}: unknown format; expected one of {', '.join(FORMATS)}")

    def _read_list(self, urls: str | list[str]) -> list[str]:
        if not isinstance(urls, str):
            lines = list(urls)
        elif Path(urls).is_file():
            lines = Path(urls).read_text(encoding="utf-8").splitlines()
        else:
            lines = read_small(urls, self.local_path(urls), self.mirror, self.manifest).splitlines()
        return [line.strip() for line in lines if line.strip()]

    def relative(self, url: str) -> str:
        """The path of ``url`` below ``base_url``.

        Raises:
            LemurError: ``url`` is not under ``base_url``.
        """
        if not url.startswith(self.base_url):
            raise LemurError(f"url-list source: {url} is not under the base URL {self.base_url}")
        return url[len(self.base_url) :]

    def local_path(self, url: str) -> str:
        """Where ``url`` lives inside a data directory (mirror and manifest key)."""
        relative = self.relative(url)
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def my_files(self) -> list[str]:
        """The URLs of this shard's files, in list order."""
        return self.files[self.shard :: self.num_shards]

    def open(self, url: str) -> VerifiedStream:
        """A verified stream of one file of the list.

        Raises:
            DataFileError: The publisher lists checksums but not this file.
        """
        expected = None
        if self.sums is not None:
            expected = lookup_checksum(self.sums, self.relative(url))
            if expected is None:
                raise DataFileError(f"{url}: not in the publisher's checksum list; the published files changed")
        path = self.local_path(url)
        return VerifiedStream(url, path, self.mirror, expected, self.manifest, retries=self.retries)

    def __iter__(self) -> Iterator[Document]:
        for url in self.my_files():
            relative = self.relative(url)
            rows = self._parquet_rows(url) if url.endswith(".parquet") else self._jsonl_rows(url)
            for number, row in rows:
                try:
                    text, metadata = record_fields(row, self.text_field, self.meta_field)
                except LemurError as error:
                    raise LemurError(f"{url} record {number}: {error}") from None
                metadata["file"] = relative
                yield Document(f"{relative}:{number}", text, metadata)

    def _jsonl_rows(self, url: str) -> Iterator[tuple[int, dict[str, Any]]]:
        import io

        with self.open(url) as stream:
            lines = io.TextIOWrapper(decompressed(stream, url), encoding="utf-8")  # kept: its collection closes stream
            yield from json_lines(lines, url)
            stream.drain()

    def _parquet_rows(self, url: str) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            import pyarrow.parquet as pq
        except ImportError as error:
            raise MissingDependencyError("reading Parquet corpus files", "pyarrow", "lemur-data[parquet]") from error
        import tempfile

        # Parquet needs random access: spool the (verified) file to a temporary copy first.
        with tempfile.TemporaryFile() as copy, self.open(url) as stream:
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
            stream.drain()
            copy.seek(0)
            number = 0
            for batch in pq.ParquetFile(copy).iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    number += 1
                    yield number, row
