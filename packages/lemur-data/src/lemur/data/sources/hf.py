"""Hugging Face ``datasets`` as a data source (streaming by default).

Hub datasets change under the same name, so a hub dataset is read at a pinned ``revision``
(a commit sha or tag). Local dataset directories and files (``path="json"`` with
``data_files=...``, a directory saved by ``save_to_disk`` is not supported: use its files)
need no revision.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lemur.core.errors import LemurError, MissingDependencyError
from lemur.data.records import Document
from lemur.data.sources.base import DataSource

#: ``datasets`` builders that read local files (``data_files``) rather than a hub repository.
LOCAL_BUILDERS = frozenset({"json", "csv", "parquet", "text", "arrow"})


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def is_local(path: str) -> bool:
    """Whether ``path`` names a local builder or an existing directory rather than a hub dataset."""
    return path in LOCAL_BUILDERS or Path(path).exists()


class HFSource(DataSource):
    """Documents from a Hugging Face dataset, via ``datasets.load_dataset``.

    Args:
        path: Hub dataset id (``bigcode/the-stack-dedup``), a local dataset directory, or a
            local builder (``json``, ``parquet``, ``csv``, ``text``) used with ``data_files``.
        name: Dataset configuration name.
        split: Split to read.
        revision: Commit sha or tag; required for hub datasets.
        data_dir: Sub-directory of the dataset (The Stack's ``data/python``).
        data_files: Files for a local builder.
        text_field: The field holding the text, or several joined by a newline
            (``["question", "answer"]``).
        id_field: The field holding the id; without one, ids are ``<path>:<row>``.
        streaming: Stream records instead of downloading and preparing the whole dataset.
        fields: Fields to copy into ``metadata`` (default: all others).

    Raises:
        LemurError: A hub dataset without ``revision`` (the message says how to pin one), a
            record without ``text_field``, or (while reading) a Hub that cannot be reached or
            refuses access (the message names the dataset and the local alternatives).
        MissingDependencyError: ``datasets`` is not installed.
    """

    name = "hf"

    def __init__(
        self,
        path: str,
        name: str | None = None,
        split: str = "train",
        revision: str | None = None,
        data_dir: str | None = None,
        data_files: str | list[str] | dict[str, Any] | None = None,
        text_field: str | list[str] = "text",
        id_field: str | None = None,
        streaming: bool = True,
        fields: list[str] | None = None,
    ) -> None:
        try:
            import datasets  # noqa: F401
        except ImportError as error:
            raise MissingDependencyError("the hf source", "datasets", "lemur-data[hf]") from error
        if not revision and not is_local(path):
            raise LemurError(
                f"hf source {path!r}: no revision pinned; pin a revision with revision=<commit sha or tag> "
                f"(see the dataset's commit history) so reruns read the same data"
            )
        self.path = path
        self.load_args = {
            "path": path,
            "name": name,
            "split": split,
            "revision": revision,
            "data_dir": data_dir,
            "data_files": data_files,
            "streaming": streaming,
        }
        self.text_fields = [text_field] if isinstance(text_field, str) else list(text_field)
        self.id_field = id_field
        self.fields = fields

    def rows(self) -> Iterator[dict[str, Any]]:
        """The dataset's raw rows, in order."""
        import datasets

        args = {key: value for key, value in self.load_args.items() if value is not None}
        try:
            dataset = datasets.load_dataset(**args)
        except (FileNotFoundError, ValueError) as error:
            raise LemurError(f"hf source {self.path!r}: {_first_line(error)}") from None
        except OSError as error:  # ConnectionError, HTTP errors (gated, unauthorised, rate-limited), timeouts
            raise self._unreachable(error) from None
        try:
            yield from dataset
        except OSError as error:  # a stream that breaks off
            raise self._unreachable(error) from None

    def _unreachable(self, error: OSError) -> LemurError:
        return LemurError(
            f"hf source {self.path!r}: cannot read it from the Hugging Face Hub ({_first_line(error)}); "
            "check the network and, for a gated dataset, HF_TOKEN; or read local copies of its files "
            "(path='json'/'parquet' with data_files=..., or the source's paths=...), point HF_ENDPOINT at a mirror, "
            "or set HF_DATASETS_OFFLINE=1 to use the local cache"
        )

    def __iter__(self) -> Iterator[Document]:
        for row_number, row in enumerate(self.rows()):
            missing = [field for field in self.text_fields if field not in row]
            if missing:
                raise LemurError(f"hf source {self.path!r}: row {row_number} has no field {missing[0]!r}")
            doc_id = str(row[self.id_field]) if self.id_field else f"{self.path}:{row_number}"
            keys = self.fields if self.fields is not None else row.keys()
            skip = {*self.text_fields, self.id_field}
            metadata = {k: row[k] for k in keys if k not in skip}
            text = "\n".join("" if row[field] is None else str(row[field]) for field in self.text_fields)
            yield Document(doc_id, text, metadata)
