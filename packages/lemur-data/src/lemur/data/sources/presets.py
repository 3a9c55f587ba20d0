"""Named presets for the pre-training corpora of Lemur's mixture (paper Table 8).

Each preset is a Hugging Face dataset read through :class:`~lemur.data.sources.hf.HFSource`
at a pinned revision. Where no revision could be verified, the table says ``revision=None``
and loading raises "pin a revision with ..." until the user passes ``revision=...``: a preset
never silently reads whatever ``main`` is today.

The Stack (dedup) is gated on the hub: accept its terms and log in (``HF_TOKEN``) first.
RedPajama-Data-1T (``redpajama``, ``books``, ``arxiv``, ``stackexchange``) is published with a
loading script, and ``deepmind/math_dataset`` may be too (not verified here); ``datasets`` 4
and newer refuse to run scripts, so with those versions download the files and read them with
the ``jsonl``/``hf`` sources (``path="json"``, ``data_files=...``) instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from lemur.data.records import Document
from lemur.data.sources.base import DataSource
from lemur.data.sources.hf import HFSource

#: Languages of The Stack in Lemur's code mixture, as its ``data/<language>`` directories.
STACK_LANGUAGES = ("python", "sql", "java", "shell", "jupyter-notebook", "javascript", "c", "php", "c++")


@dataclasses.dataclass(frozen=True)
class CorpusPreset:
    """Where one corpus lives on the hub and how to read it.

    Attributes:
        name: Registry name (``the-stack-python``).
        dataset: Hub dataset id.
        revision: Pinned commit sha or tag; ``None`` = not verified yet (loading then raises).
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


# The Stack v1.1 is the tag the dedup dataset publishes for its current release; the other
# revisions are TODO: pin commit shas after checking each dataset's history on the hub.
_STACK_REVISION = "v1.1"

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
    "redpajama": CorpusPreset(
        "redpajama",
        "togethercomputer/RedPajama-Data-1T",
        None,
        "text",
        config="common_crawl",
        description="RedPajama-Data-1T (pass config=arxiv|book|c4|common_crawl|github|stackexchange|wikipedia)",
    ),
    "wikipedia": CorpusPreset(
        "wikipedia", "wikimedia/wikipedia", None, "text", config="20231101.en", description="English Wikipedia"
    ),
    "books": CorpusPreset(
        "books", "togethercomputer/RedPajama-Data-1T", None, "text", config="book", description="Books (RedPajama)"
    ),
    "arxiv": CorpusPreset(
        "arxiv", "togethercomputer/RedPajama-Data-1T", None, "text", config="arxiv", description="ArXiv (RedPajama)"
    ),
    "stackexchange": CorpusPreset(
        "stackexchange",
        "togethercomputer/RedPajama-Data-1T",
        None,
        "text",
        config="stackexchange",
        description="StackExchange (RedPajama)",
    ),
    "dm-mathematics": CorpusPreset(
        "dm-mathematics",
        "deepmind/math_dataset",
        None,
        ("question", "answer"),
        config="algebra__linear_1d",
        description="DeepMind Mathematics (pass config=<module>, e.g. algebra__linear_1d)",
    ),
}


class PresetSource(DataSource):
    """A named corpus preset; subclasses bind :attr:`preset`.

    Args:
        revision: Overrides the preset's pinned revision (required where the preset has none).
        config: Overrides the dataset configuration.
        split: Overrides the split.
        streaming: Stream (default) instead of downloading everything first.
        **overrides: Other :class:`~lemur.data.sources.hf.HFSource` arguments.

    Raises:
        LemurError: No revision pinned by the preset or the caller.
    """

    preset: CorpusPreset

    def __init__(
        self,
        revision: str | None = None,
        config: str | None = None,
        split: str | None = None,
        streaming: bool = True,
        **overrides: Any,
    ) -> None:
        preset = self.preset
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


def _preset_class(preset: CorpusPreset) -> type[PresetSource]:
    class_name = "".join(part.capitalize() for part in preset.name.replace("+", "p").split("-")) + "Source"
    return type(
        class_name,
        (PresetSource,),
        {"preset": preset, "name": preset.name, "__doc__": preset.description, "__module__": __name__},
    )


#: Registry name -> source class, e.g. ``PRESET_SOURCES["the-stack-python"]``.
PRESET_SOURCES: dict[str, type[PresetSource]] = {name: _preset_class(preset) for name, preset in PRESETS.items()}
globals().update({cls.__name__: cls for cls in PRESET_SOURCES.values()})
