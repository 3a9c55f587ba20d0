"""Plain-text files (optionally gzip-compressed) as a data source: one document per file."""

from __future__ import annotations

import glob
import gzip
from collections.abc import Iterator
from pathlib import Path

from lemur.core.errors import LemurError
from lemur.data.records import Document
from lemur.data.sources.base import DataSource


class TextFilesSource(DataSource):
    """Every file matching ``patterns`` (sorted, deduplicated) as one document, e.g. Debian info manuals.

    Args:
        patterns: Glob pattern(s); ``**`` matches directories recursively.
        min_bytes: Skip files whose decoded text is shorter than this many bytes.
        encoding: Text encoding; undecodable bytes are replaced.

    Raises:
        LemurError: No file matches.
    """

    name = "text-files"

    def __init__(self, patterns: str | list[str], min_bytes: int = 1, encoding: str = "utf-8"):
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self.paths = sorted(
            {Path(p) for pattern in patterns for p in glob.glob(pattern, recursive=True) if Path(p).is_file()}
        )
        if not self.paths:
            raise LemurError(f"text-files source: no file matches {', '.join(patterns)}")
        self.min_bytes = min_bytes
        self.encoding = encoding

    def __iter__(self) -> Iterator[Document]:
        for path in self.paths:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding=self.encoding, errors="replace") as handle:
                text = handle.read()
            if len(text.encode(self.encoding, errors="replace")) >= self.min_bytes:
                yield Document(str(path), text, {"path": str(path)})
