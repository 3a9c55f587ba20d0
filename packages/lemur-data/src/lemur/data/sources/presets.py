"""Named presets for the pre-training corpora of Lemur's mixture (paper Table 8).

Every preset reads a pinned release of its corpus; none silently reads whatever is newest:

* ``the-stack-<language>``: hub ``bigcode/the-stack-dedup``, ``data/<language>``, at tag ``v1.1``;
  checksums are the hub's (git LFS).
* ``refinedweb``: hub ``tiiuae/falcon-refinedweb`` (Parquet); no revision verified, so loading
  refuses until ``revision=<sha>`` is given; checksums are the hub's.
* ``redpajama`` (``subset=``): RedPajama-Data-1T's versioned ``v1.0.0/urls.txt`` on
  data.together.xyz, pinned by the versioned path and each subset's published file count;
  every file is checked against the publisher's ``v1.0.0/sha256/<subset>_SHA256SUMS.txt``.
* ``wikipedia``, ``books``, ``arxiv``, ``stackexchange``: ``redpajama`` with subset
  ``wikipedia``, ``book``, ``arxiv``, ``stackexchange``.
* ``dm-mathematics``: the versioned ``mathematics_dataset-v1.0.tar.gz`` on storage.googleapis.com;
  the publisher gives no checksum, so its SHA-256 is recorded on the first full read and
  checked on every later one.

Lemur's Wikipedia, Books, ArXiv and StackExchange text is RedPajama's (RedPajama's Wikipedia
slice holds several languages; filter with the ``language`` step). The RedPajama and DM Mathematics
presets stream their files (:mod:`lemur.data.sources.url_list`,
:mod:`lemur.data.sources.dm_mathematics`) and take ``mirror=<data dir>`` to read a local copy
laid out as ``redpajama-data-1T/v1.0.0/<subset>/...`` or ``mathematics-dataset/...``; digests
of files without a publisher checksum go to ``manifest=`` (default: beside them in the data
directory) and are checked on every later read.

RefinedWeb: the only full commit sha of ``tiiuae/falcon-refinedweb`` found in public sources
(``e26b5c1…``, "Fix metadata") predates a later squash of the repository's history
(``c735840`` "Squashing commit", short sha only), so it is probably no longer resolvable and is
not pinned here; loading refuses until ``revision=<sha>`` is given. The Stack (dedup) is gated
on the hub: accept its terms and log in (``HF_TOKEN``) first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lemur.core.errors import LemurError
from lemur.data.records import Document
from lemur.data.sources.base import DataSource
from lemur.data.sources.dm_mathematics import DMMathematicsSource
from lemur.data.sources.hf import HFSource
from lemur.data.sources.url_list import UrlListSource

#: Languages of The Stack in Lemur's code mixture, as its ``data/<language>`` directories.
STACK_LANGUAGES = ("python", "sql", "java", "shell", "jupyter-notebook", "javascript", "c", "php", "c++")

#: RedPajama-Data-1T's versioned release directory.
REDPAJAMA_BASE = "https://data.together.xyz/redpajama-data-1T/v1.0.0"
#: Files per subset in its ``urls.txt`` (2,084 in all, as the dataset card says): a pin on the list.
REDPAJAMA_FILES = {
    "arxiv": 100,
    "book": 1,
    "c4": 1024,
    "common_crawl": 859,
    "github": 98,
    "stackexchange": 1,
    "wikipedia": 1,
}


@dataclasses.dataclass(frozen=True)
class CorpusPreset:
    """Where one corpus lives on the Hugging Face hub and how to read it.

    Attributes:
        name: Registry name (``the-stack-python``).
        dataset: Hub dataset id.
        revision: Pinned commit sha or tag; ``None`` = none verified (loading then raises).
        text_field: Field(s) holding the text (several are joined with a newline).
        config: Dataset configuration name.
        data_dir: Sub-directory of the dataset.
        split: Split to read.
        description: One line for ``lemur plugins``.
    """

    name: str
    dataset: str
    revision: str | None
    text_field: str | tuple[str, ...] = "text"
    config: str | None = None
    data_dir: str | None = None
    split: str = "train"
    description: str = ""


_STACK_REVISION = "v1.1"

#: The presets read from the Hugging Face hub.
PRESETS: dict[str, CorpusPreset] = {
    **{
        f"the-stack-{language}": CorpusPreset(
            f"the-stack-{language}",
            "bigcode/the-stack-dedup",
            _STACK_REVISION,
            "content",
            data_dir=f"data/{language}",
            description=f"The Stack (dedup) {language} files",
        )
        for language in STACK_LANGUAGES
    },
    "refinedweb": CorpusPreset(
        "refinedweb", "tiiuae/falcon-refinedweb", None, "content", description="RefinedWeb web text"
    ),
}


class PresetSource(DataSource):
    """A named hub corpus preset; subclasses bind :attr:`preset`.

    Args:
        revision: Overrides the preset's pinned revision (required where the preset has none).
        config: Overrides the dataset configuration.
        split: Overrides the split.
        streaming: Stream (default) instead of downloading everything first.
        **overrides: Other :class:`~lemur.data.sources.hf.HFSource` arguments.

    Raises:
        LemurError: No revision pinned by the preset or the caller (the message says how to pin one).
    """

    preset: CorpusPreset
    #: The pip requirement of the optional packages it needs.
    extra: str | None = "lemur-data[hf]"

    def __init__(
        self,
        revision: str | None = None,
        config: str | None = None,
        split: str | None = None,
        streaming: bool = True,
        **overrides: Any,
    ) -> None:
        preset = self.preset
        if not (revision or preset.revision):
            raise LemurError(
                f"hf source {preset.dataset!r}: no revision pinned for preset {preset.name!r}; pin a revision with "
                f"revision=<commit sha> (`lemur data head {preset.name} -o revision=<sha>`, or "
                f"`options: {{revision: <sha>}}` in a recipe), taken from the dataset's commit history on the hub"
            )
        text_field = preset.text_field if isinstance(preset.text_field, str) else list(preset.text_field)
        arguments: dict[str, Any] = {
            "path": preset.dataset,
            "name": config or preset.config,
            "split": split or preset.split,
            "revision": revision or preset.revision,
            "data_dir": preset.data_dir,
            "text_field": text_field,
            "streaming": streaming,
        }
        arguments.update(overrides)
        self.source = HFSource(**arguments)

    def __iter__(self) -> Iterator[Document]:
        for document in self.source:
            document.metadata.setdefault("source", self.preset.name)
            yield document


def _hub_preset_class(preset: CorpusPreset) -> type[PresetSource]:
    class_name = "".join(part.capitalize() for part in preset.name.replace("+", "p").split("-")) + "Source"
    attributes = {
        "preset": preset,
        "name": preset.name,
        "description": preset.description,
        "__doc__": preset.description,
        "__module__": __name__,
    }
    return type(class_name, (PresetSource,), attributes)


def _flag(value: bool | str) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() not in ("0", "false", "no", "off")


class RedpajamaSource(UrlListSource):
    """One subset of RedPajama-Data-1T v1.0.0, streamed from the publisher's versioned URL list.

    Records are ``{"text", "meta": {...}}`` (``meta`` holds ``url``, ``timestamp``, ``language``
    and more, by subset); the document's metadata is ``meta`` plus ``red_pajama_subset``,
    ``file`` and ``source``. Every file is checked against the publisher's
    ``sha256/<subset>_SHA256SUMS.txt``; the list itself must hold the subset's published file count.

    Args:
        subset: ``arxiv``, ``book``, ``c4``, ``common_crawl``, ``github``, ``stackexchange`` or ``wikipedia``.
        mirror: A local data directory holding ``redpajama-data-1T/v1.0.0/{urls.txt,sha256/,<subset>/}``.
        manifest: Where digests without a publisher checksum (``urls.txt``) are recorded.
        publisher_checksums: Check files against the publisher's lists (turn off only if they
            are gone; digests are then recorded in ``manifest`` and checked on later reads).
        shard, num_shards, retries: See :class:`~lemur.data.sources.url_list.UrlListSource`.

    Raises:
        LemurError: An unknown subset, or a URL list that no longer holds the published file count.
    """

    name = "redpajama"
    #: The subset read when none is given.
    subset = "common_crawl"
    description = "RedPajama-Data-1T v1.0.0 (subset=arxiv|book|c4|common_crawl|github|stackexchange|wikipedia)"
    extra: str | None = "lemur-data[zstd]"

    def __init__(
        self,
        subset: str | None = None,
        mirror: str | Path | None = None,
        manifest: str | Path | None = None,
        publisher_checksums: bool | str = True,
        shard: int = 0,
        num_shards: int = 1,
        retries: int = 5,
    ) -> None:
        subset = subset or type(self).subset
        if subset not in REDPAJAMA_FILES:
            raise LemurError(f"{self.name} source: unknown subset {subset!r}; subsets are {', '.join(REDPAJAMA_FILES)}")
        self.subset = subset
        checksums = f"{REDPAJAMA_BASE}/sha256/{subset}_SHA256SUMS.txt" if _flag(publisher_checksums) else None
        super().__init__(
            f"{REDPAJAMA_BASE}/urls.txt",
            base_url=REDPAJAMA_BASE,
            prefix="redpajama-data-1T/v1.0.0",
            include=f"{subset}/",
            checksums=checksums,
            mirror=mirror,
            manifest=manifest,
            expected_files=REDPAJAMA_FILES[subset],
            shard=shard,
            num_shards=num_shards,
            retries=retries,
        )

    def __iter__(self) -> Iterator[Document]:
        for document in super().__iter__():
            document.metadata["red_pajama_subset"] = self.subset
            document.metadata.setdefault("source", self.name)
            yield document


def _redpajama_class(name: str, subset: str, description: str) -> type[RedpajamaSource]:
    class_name = name.capitalize() + "Source"
    attributes = {
        "name": name,
        "subset": subset,
        "description": description,
        "extra": None,
        "__doc__": f"{description}: :class:`RedpajamaSource` fixed to subset ``{subset}``.",
        "__module__": __name__,
    }
    return type(class_name, (RedpajamaSource,), attributes)


class DmMathematicsSource(DMMathematicsSource):
    """DeepMind Mathematics v1.0 pairs, as :class:`~lemur.data.sources.dm_mathematics.DMMathematicsSource`."""

    description = "DeepMind Mathematics v1.0 pairs (splits=train-easy,..., modules=algebra__linear_1d,...)"
    extra: str | None = None

    def __iter__(self) -> Iterator[Document]:
        for document in super().__iter__():
            document.metadata.setdefault("source", self.name)
            yield document


#: Registry name -> source class, e.g. ``PRESET_SOURCES["the-stack-python"]``.
PRESET_SOURCES: dict[str, type[DataSource]] = {
    **{name: _hub_preset_class(preset) for name, preset in PRESETS.items()},
    "redpajama": RedpajamaSource,
    "wikipedia": _redpajama_class("wikipedia", "wikipedia", "Wikipedia (RedPajama-Data-1T v1.0.0, 20 languages)"),
    "books": _redpajama_class("books", "book", "Books (RedPajama-Data-1T v1.0.0)"),
    "arxiv": _redpajama_class("arxiv", "arxiv", "ArXiv LaTeX (RedPajama-Data-1T v1.0.0)"),
    "stackexchange": _redpajama_class("stackexchange", "stackexchange", "StackExchange (RedPajama-Data-1T v1.0.0)"),
    "dm-mathematics": DmMathematicsSource,
}
globals().update({cls.__name__: cls for cls in PRESET_SOURCES.values()})
