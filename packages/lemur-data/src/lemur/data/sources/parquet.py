"""Parquet files as a data source, streamed one record batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lemur.core.errors import LemurError, MissingDependencyError
from lemur.data.records import Document
from lemur.data.sources.base import DataSource


class ParquetSource(DataSource):
    """Documents from one or more Parquet files, read by row group so memory stays bounded.

    Args:
        paths: Files to read, in order (a single path or a list).
        text_field: The column holding the text.
        id_field: The column holding the id; without one, ids are ``<file name>:<row>``.
        columns: Extra columns to copy into ``metadata`` (default: all other columns).
        batch_size: Rows per record batch read (memory vs. call overhead).

    Raises:
        LemurError: A file does not exist, or lacks ``text_field`` / ``id_field``.
        MissingDependencyError: ``pyarrow`` is not installed.
    """

    name = "parquet"

    def __init__(
        self,
        paths: str | Path | list[str | Path],
        text_field: str = "text",
        id_field: str | None = None,
        columns: list[str] | None = None,
        batch_size: int = 1024,
    ) -> None:
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError as error:
            raise MissingDependencyError("the parquet source", "pyarrow", "lemur-data[parquet]") from error
        self.paths = [Path(p) for p in (paths if isinstance(paths, list) else [paths])]
        self.text_field = text_field
        self.id_field = id_field
        self.columns = columns
        self.batch_size = int(batch_size)
        for path in self.paths:
            if not path.is_file():
                raise LemurError(f"parquet source: file {str(path)!r} does not exist")

    def __iter__(self) -> Iterator[Document]:
        import pyarrow.parquet as pq

        for path in self.paths:
            reader = pq.ParquetFile(path)
            names = reader.schema_arrow.names
            for needed in (self.text_field, self.id_field):
                if needed and needed not in names:
                    raise LemurError(f"{path}: no column {needed!r}; columns are {', '.join(names)}")
            extra = self.columns if self.columns is not None else names
            wanted = [self.text_field, *([self.id_field] if self.id_field else [])]
            wanted += [c for c in extra if c not in wanted]
            row = 0
            for batch in reader.iter_batches(batch_size=self.batch_size, columns=wanted):
                for item in batch.to_pylist():
                    doc_id = str(item.pop(self.id_field)) if self.id_field else f"{path.name}:{row}"
                    text = item.pop(self.text_field)
                    row += 1
                    yield Document(doc_id, "" if text is None else str(text), item)
