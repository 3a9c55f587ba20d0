"""The data-source contract."""

from __future__ import annotations

import abc
from collections.abc import Iterator

from lemur.data.records import Document


class DataSource(abc.ABC):
    """A reader of documents, configured by keyword arguments to its constructor.

    Iterating a source yields every document in a fixed order; a source never holds the
    whole corpus in memory.
    """

    #: Registry name (``jsonl``, ``the-stack``).
    name: str = ""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Document]:
        """Yield the documents in order."""
