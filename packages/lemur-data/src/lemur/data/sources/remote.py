"""Corpus files streamed from their publisher's URL or a local mirror, checked by SHA-256 as they are read.

A corpus too large to download first (RedPajama is about 5 TB) is read as a stream:
:class:`VerifiedStream` hashes the bytes as the reader consumes them and, at the end of the
file, checks the digest against the publisher's checksum when there is one, else against the
one recorded in a :class:`ChecksumManifest` by an earlier read, else records it there. A
rebuild that reads a file whose bytes changed therefore fails at that file's end, before the
shard that read it is published (shard writers publish by rename).

Over HTTP a dropped connection is resumed where it stopped with a ``Range`` request, so one
flaky read does not restart a multi-gigabyte file. With ``mirror`` (``--data-dir``), the file
is read from ``<mirror>/<path>`` and nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from lemur.core.datafiles import DataFileError
from lemur.core.errors import MissingDependencyError

_CHUNK = 1 << 20


def _read_errors() -> tuple[type[Exception], ...]:
    """What a failed or cut HTTP read raises (imported late: listing plugins must stay fast)."""
    import http.client

    return (OSError, http.client.HTTPException)


def default_data_dir() -> Path:
    """The corpus cache, ``Settings.data_dir`` (``$LEMUR_DATA_DIR``)."""
    from lemur.core.settings import get_settings

    return Path(get_settings().data_dir).expanduser()


def parse_sha256sums(text: str) -> dict[str, str]:
    """``sha256sum`` output (``<hex>  <path>`` or ``<hex> *<path>`` a line) as path -> hex digest.

    Raises:
        DataFileError: A line is not a 64-digit hex digest followed by a path.
    """
    sums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, path = line.strip().partition(" ")
        path = path.strip().lstrip("*")
        if len(digest) != 64 or not path or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise DataFileError(f"checksum list line {number}: expected '<sha256>  <path>', got {line[:80]!r}")
        sums[path.removeprefix("./")] = digest.lower()
    return sums


def lookup_checksum(sums: dict[str, str], path: str) -> str | None:
    """The digest listed for ``path``: the same path, or the one entry whose path ends where ``path`` ends.

    Publishers list paths relative to different roots (``arxiv/x.jsonl`` or ``x.jsonl``), so a
    listed path that is a ``/``-bounded suffix of ``path`` (or the reverse) matches when it is
    the only one that does.
    """
    if path in sums:
        return sums[path]
    matches = [d for p, d in sums.items() if path.endswith("/" + p) or p.endswith("/" + path)]
    return matches[0] if len(matches) == 1 else None


class ChecksumManifest:
    """The SHA-256 of every corpus file read to its end, so a rebuild can verify the same bytes.

    One JSON object a line, ``{"path", "url", "sha256", "bytes"}``, appended (``O_APPEND``, one
    write a line) so processes reading different files of a corpus can share one manifest.

    Args:
        path: The manifest file (created with its directory on the first record).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def entries(self) -> dict[str, dict[str, Any]]:
        """Recorded entries by relative path.

        Raises:
            DataFileError: A line is not JSON, or one path was recorded with two digests.
        """
        entries: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return entries
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFileError(f"{self.path}:{number}: not JSON ({error.msg})") from None
            known = entries.get(entry["path"])
            if known and known["sha256"] != entry["sha256"]:
                raise DataFileError(f"{self.path}: {entry['path']!r} is recorded with two different checksums")
            entries[entry["path"]] = entry
        return entries

    def expected(self, path: str) -> str | None:
        """The recorded digest of ``path``, or None."""
        entry = self.entries().get(path)
        return entry["sha256"] if entry else None

    def record(self, path: str, url: str, sha256: str, size: int) -> None:
        """Append the digest of ``path`` unless the same one is already recorded."""
        if self.expected(path) == sha256:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"path": path, "url": url, "sha256": sha256, "bytes": size}) + "\n"
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line.encode("utf-8"))
        finally:
            os.close(descriptor)


class VerifiedStream(io.RawIOBase):
    """The bytes of one corpus file, hashed as they are read and checked when the last byte is read.

    Args:
        url: Where the publisher serves the file.
        path: The file's relative path in a data directory (its key in mirrors and manifests).
        mirror: A local data directory holding ``path``; when given, nothing is downloaded.
        expected: The publisher's SHA-256 (hex), if it publishes one.
        manifest: Where digests of files without a publisher checksum are recorded and checked.
        retries: How many times in all a dropped HTTP connection is resumed before giving up.
        backoff: Seconds to wait before the first resume (doubling each time, at most 30).
        timeout: Seconds an HTTP read may stall.

    Raises:
        DataFileError: The file is not in the mirror or cannot be downloaded, or (when the last
            byte is read, or on :meth:`drain`) its checksum differs from the expected one.
    """

    def __init__(
        self,
        url: str,
        path: str,
        mirror: str | Path | None = None,
        expected: str | None = None,
        manifest: ChecksumManifest | None = None,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 60.0,
    ) -> None:
        super().__init__()
        self.url = url
        self.path = path
        self.mirror = Path(mirror) if mirror is not None else None
        self.manifest = manifest
        self.expected = expected or (manifest.expected(path) if manifest else None)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.timeout = float(timeout)
        self.offset = 0
        #: How many times the download was resumed after a cut connection.
        self.resumes = 0
        self.verified = False
        self._digest = hashlib.sha256()
        self._handle: Any = None
        self._end: int | None = None
        self._open()

    @property
    def source(self) -> str:
        """Where the bytes come from: the mirror file or the URL."""
        return str(self.mirror / self.path) if self.mirror is not None else self.url

    def _open(self) -> None:
        if self.mirror is not None:
            local = self.mirror / self.path
            if not local.is_file():
                raise DataFileError(f"corpus file {self.path!r} is not in the mirror {str(self.mirror)!r} ({local})")
            self._handle = open(local, "rb")
            return
        import urllib.error
        import urllib.request

        headers = {"User-Agent": "lemur-data"}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
        try:
            response = urllib.request.urlopen(urllib.request.Request(self.url, headers=headers), timeout=self.timeout)
        except (urllib.error.URLError, *_read_errors()) as error:
            raise DataFileError(
                f"cannot download {self.url} ({error}); check the network, or use a local mirror (mirror=<dir>)"
            ) from None
        if self.offset and response.status != 206:
            response.close()
            raise DataFileError(f"{self.url}: the server ignored a resume request at byte {self.offset}")
        length = response.headers.get("Content-Length")
        # http.client reports a connection closed early as a plain end of file: compare with the length.
        self._end = self.offset + int(length) if length else None
        self._handle = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        import http.client

        while True:
            try:
                count = self._handle.readinto(buffer)
                if not count and self._end is not None and self.offset < self._end:
                    raise http.client.IncompleteRead(b"", self._end - self.offset)
                break
            except _read_errors() as error:
                if self.mirror is not None or self.resumes >= self.retries:
                    raise DataFileError(f"reading {self.source} failed at byte {self.offset}: {error}") from None
                self._handle.close()
                time.sleep(min(self.backoff * 2**self.resumes, 30.0))
                self.resumes += 1
                self._open()
        if count:
            self._digest.update(memoryview(buffer)[:count])
            self.offset += count
        elif not self.verified:
            self._verify()
        return count

    def drain(self) -> None:
        """Read whatever the consumer left unread (a tar's padding) and verify the whole file."""
        while self.readinto(bytearray(_CHUNK)):
            pass

    def _verify(self) -> None:
        actual = self._digest.hexdigest()
        if self.expected is None:
            if self.manifest is not None:
                self.manifest.record(self.path, self.url, actual, self.offset)
        elif actual != self.expected:
            raise DataFileError(
                f"{self.source}: checksum {actual[:12]}… does not match the pinned {self.expected[:12]}… of "
                f"{self.path!r}; the publisher changed the file or the copy is corrupted"
            )
        self.verified = True

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        super().close()


def decompressed(stream: IO[bytes], name: str) -> IO[bytes]:
    """``stream`` decompressed by the suffix of ``name`` (``.zst``, ``.gz``; anything else as is).

    Raises:
        MissingDependencyError: A ``.zst`` file without ``zstandard`` installed.
    """
    if name.endswith(".zst"):
        try:
            import zstandard
        except ImportError as error:
            raise MissingDependencyError(f"reading {name}", "zstandard", "lemur-data[zstd]") from error
        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    if name.endswith(".gz"):
        import gzip

        return gzip.GzipFile(fileobj=stream, mode="rb")
    return io.BufferedReader(stream, _CHUNK)


def read_small(
    url: str, path: str, mirror: str | Path | None, manifest: ChecksumManifest | None, expected: str | None = None
) -> str:
    """The whole text of a small file (a URL or checksum list), verified like any corpus file."""
    stream = VerifiedStream(url, path, mirror=mirror, expected=expected, manifest=manifest)
    with stream:
        data = stream.read()
        stream.drain()
    return data.decode("utf-8")
