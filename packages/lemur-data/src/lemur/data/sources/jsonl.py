"""JSON Lines files (optionally gzip-compressed) as a data source."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from lemur.core.errors import LemurError
from lemur.data.records import Document
from lemur.data.sources.base import DataSource
from lemur.data.sources.rows import json_lines


class JsonlSource(DataSource):
    """Documents from one or more ``.jsonl`` / ``.jsonl.gz`` files.

    Args:
        paths: Files to read, in order (a single path or a list).
        text_field: The JSON field holding the text.
        id_field: The JSON field holding the id; without one, ids are ``<file name>:<line>``.

    Raises (while iterating):
        LemurError: A line is not JSON or lacks ``text_field``; the message names file and line.
    """

    name = "jsonl"

    def __init__(self, paths: str | Path | list[str | Path], text_field: str = "text", id_field: str | None = None):
        self.paths = [Path(p) for p in (paths if isinstance(paths, list) else [paths])]
        self.text_field = text_field
        self.id_field = id_field
        for path in self.paths:
            if not path.is_file():
                raise LemurError(f"jsonl source: file {str(path)!r} does not exist")

    def __iter__(self) -> Iterator[Document]:
        for path in self.paths:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as lines:
                for number, row in json_lines(lines, path):
                    if self.text_field not in row:
                        raise LemurError(f"{path}:{number}: no field {self.text_field!r}")
                    doc_id = str(row[self.id_field]) if self.id_field else f"{path.name}:{number}"
                    metadata = {k: v for k, v in row.items() if k not in (self.text_field, self.id_field)}
                    yield Document(doc_id, str(row[self.text_field]), metadata)
