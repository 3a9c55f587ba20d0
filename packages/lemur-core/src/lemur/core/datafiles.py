"""Benchmark and corpus files: fetched from their official source at a pinned revision, checked by SHA-256.

Each :class:`RemoteFile` names the file's place in a data directory (``gsm8k/test.jsonl``),
the URL of the pinned revision and its checksum. :func:`fetch` returns a local path:

* with ``mirror`` (``--data-dir``): the file must already be there, under the same relative
  path (a local mirror, e.g. ``../shared/data``); nothing is downloaded;
* otherwise the file is looked up in the cache (``Settings.data_dir``, ``$LEMUR_DATA_DIR``) and
  downloaded there if missing, to a temporary name first, renamed only once its checksum
  matches, so an interrupted or corrupted download never looks finished.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from lemur.core.errors import LemurError

_CHUNK = 1 << 20


class DataFileError(LemurError):
    """A data file is missing from a mirror, cannot be downloaded, or has the wrong checksum."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """A file of a benchmark or corpus at a pinned revision.

    Attributes:
        path: Relative path inside a data directory, e.g. ``"gsm8k/test.jsonl"``.
        url: Where the pinned revision can be downloaded.
        sha256: Expected SHA-256 of the file's bytes (hex).
    """

    path: str
    url: str
    sha256: str


def manifest(package: str, name: str) -> tuple[RemoteFile, ...]:
    """The pinned files listed in ``<package>/manifests/<name>.json`` (``{"files": [{path, url, sha256}]}``).

    Raises:
        DataFileError: The package has no such manifest.
    """
    from importlib import resources

    try:
        text = resources.files(package).joinpath("manifests", f"{name}.json").read_text("utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as error:
        raise DataFileError(f"no data manifest {name!r} in {package} ({error})") from None
    return tuple(RemoteFile(**entry) for entry in json.loads(text)["files"])


def fetch_manifest(package: str, name: str, mirror: str | Path | None = None) -> dict[str, Path]:
    """Verified local copies of every file of manifest ``name`` of ``package``, keyed by relative path."""
    return {file.path: fetch(file, mirror=mirror) for file in manifest(package, name)}


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(file: RemoteFile, mirror: str | Path | None = None, cache_dir: str | Path | None = None) -> Path:
    """Return a verified local copy of ``file``.

    Args:
        file: What to fetch.
        mirror: A local data directory holding ``file.path``; when given, nothing is downloaded.
        cache_dir: The download cache; default ``Settings.data_dir``.

    Raises:
        DataFileError: The mirror lacks the file, the download fails, or a checksum differs.
    """
    if mirror is not None:
        local = Path(mirror) / file.path
        if not local.is_file():
            raise DataFileError(f"data file {file.path!r} is not in the mirror {str(mirror)!r} (expected {local})")
        _verify(local, file)
        return local
    if cache_dir is None:
        from lemur.core.settings import get_settings

        cache_dir = get_settings().data_dir
    local = Path(cache_dir).expanduser() / file.path
    if local.is_file():
        _verify(local, file)
        return local
    _download(file, local)
    return local


def _verify(local: Path, file: RemoteFile) -> None:
    actual = sha256_of(local)
    if actual != file.sha256:
        raise DataFileError(
            f"{local}: checksum {actual[:12]}… does not match the pinned {file.sha256[:12]}… of {file.path!r}; "
            "delete the file to download it again, or fix the mirror"
        )


def _download(file: RemoteFile, local: Path) -> None:
    local.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=local.name + ".", suffix=".part", dir=local.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(descriptor, "wb") as out, urllib.request.urlopen(file.url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            progress = _progress(total, f"downloading {file.path}")
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                progress.update(len(chunk))
            progress.close()
        if digest.hexdigest() != file.sha256:
            raise DataFileError(
                f"download of {file.path!r} from {file.url} has checksum {digest.hexdigest()[:12]}…, "
                f"expected {file.sha256[:12]}…; the source changed or the download was corrupted"
            )
        os.replace(temporary, local)
    except (urllib.error.URLError, OSError) as error:
        raise DataFileError(
            f"cannot download {file.path!r} from {file.url} ({error}); "
            "check the network, or use a local mirror with --data-dir"
        ) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class _NoProgress:
    def update(self, _count: int) -> None:
        return None

    def close(self) -> None:
        return None


def _progress(total: int | None, description: str) -> _NoProgress:
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoProgress()
    return tqdm(total=total, desc=description, unit="B", unit_scale=True, file=sys.stderr, leave=False)
