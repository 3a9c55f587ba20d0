"""Data sources: readers that yield :class:`~lemur.data.records.Document` records."""

from lemur.data.sources.base import DataSource

__all__ = ["DataSource"]
