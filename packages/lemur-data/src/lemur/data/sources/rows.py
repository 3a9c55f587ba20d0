"""Reading raw rows (dicts) from local files or a pinned hub dataset, for structured sources."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lemur.core.errors import LemurError, MissingDependencyError


def json_lines(lines: Iterable[str], where: object) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` of each non-blank line of JSON Lines; ``where`` names the file in errors.

    Raises:
        LemurError: A line that is not a JSON object (``<where>:<line>: not a JSON object``).
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise LemurError(f"{where}:{number}: not a JSON object ({error.msg})") from None
        if not isinstance(row, dict):
            raise LemurError(f"{where}:{number}: not a JSON object")
        yield number, row


def read_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a ``.jsonl``/``.jsonl.gz`` (one object a line), ``.json`` (a list of objects) or ``.parquet`` file.

    Raises:
        LemurError: Missing file, unknown suffix, or content that is not objects.
        MissingDependencyError: A Parquet file without ``pyarrow`` installed.
    """
    path = Path(path)
    if not path.is_file():
        raise LemurError(f"file {str(path)!r} does not exist")
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as error:
            raise MissingDependencyError(f"reading {path.name}", "pyarrow", "lemur-data[parquet]") from error
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()
    elif suffixes.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            yield from (row for _number, row in json_lines(lines, path))
    elif path.suffix == ".json":
        with open(path, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except json.JSONDecodeError as error:
                raise LemurError(f"{path}: not JSON ({error.msg} at line {error.lineno})") from None
        if not isinstance(data, list):
            raise LemurError(f"{path}: expected a JSON list of objects, got {type(data).__name__}")
        yield from data
    else:
        raise LemurError(f"{path}: unknown file type; expected .jsonl, .jsonl.gz, .json or .parquet")


def check_rows_source(paths: str | Path | list[str | Path] | None, dataset: str, revision: str | None) -> None:
    """Raise now what :func:`rows_from` would raise on its first row, so a build refuses before writing.

    Raises:
        LemurError: Neither ``paths`` nor a revision for the hub ``dataset``.
    """
    if not paths and not revision:
        raise LemurError(
            f"{dataset}: no local paths and no hub revision; pass paths=<local files>, or pin a revision with "
            f"revision=<commit sha or tag> (see the dataset's commit history) so reruns read the same data"
        )


def rows_from(
    paths: str | Path | list[str | Path] | None,
    dataset: str,
    revision: str | None,
    data_files: str | None = None,
    split: str = "train",
) -> Iterator[dict[str, Any]]:
    """Rows of local ``paths`` when given, else of the hub ``dataset`` at ``revision`` (streamed).

    Raises:
        LemurError: Neither ``paths`` nor a revision for the hub dataset.
    """
    if paths:
        for path in paths if isinstance(paths, list) else [paths]:
            yield from read_rows(path)
        return
    from lemur.data.sources.hf import HFSource

    yield from HFSource(dataset, split=split, revision=revision, data_files=data_files).rows()
