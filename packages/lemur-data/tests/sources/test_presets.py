"""Corpus presets: registered names, pinned revisions, and refusal to read an unpinned hub dataset.

The streamed presets (RedPajama subsets, DM Mathematics) are read end to end in ``test_remote_corpora.py``.
"""

from __future__ import annotations

import json

import pytest

from lemur.core.components import Kind
from lemur.core.errors import LemurError
from lemur.data.sources.presets import PRESET_SOURCES, PRESETS, STACK_LANGUAGES

pytest.importorskip("datasets", reason="needs 'datasets': pip install 'lemur-data[hf]'")

# Table 8 of the Lemur paper names these sources.
TABLE_8 = {f"the-stack-{language}" for language in STACK_LANGUAGES} | {
    "refinedweb",
    "wikipedia",
    "books",
    "arxiv",
    "stackexchange",
    "dm-mathematics",
}


def test_every_table_8_source_has_a_preset():
    assert TABLE_8 <= set(PRESET_SOURCES)
    assert {name for name, preset in PRESETS.items() if preset.revision is None} == {"refinedweb"}
    assert all(cls.description for cls in PRESET_SOURCES.values())
    assert PRESETS["the-stack-c++"].data_dir == "data/c++"
    assert PRESETS["the-stack-python"].text_field == "content"


@pytest.mark.parametrize("name", sorted(n for n, p in PRESETS.items() if p.revision is None))
def test_unpinned_presets_raise_until_a_revision_is_given(name):
    with pytest.raises(LemurError, match="pin a revision with revision=<commit sha> .*-o revision=<sha>"):
        PRESET_SOURCES[name]()
    source = PRESET_SOURCES[name](revision="0123abc")
    assert source.source.load_args["revision"] == "0123abc"
    assert source.source.load_args["path"] == PRESETS[name].dataset


def test_stack_preset_arguments():
    source = PRESET_SOURCES["the-stack-sql"](config=None, split="train")
    assert source.source.load_args == {
        "path": "bigcode/the-stack-dedup",
        "name": None,
        "split": "train",
        "revision": "v1.1",
        "data_dir": "data/sql",
        "data_files": None,
        "streaming": True,
    }


def test_presets_are_registered_plugins(run_lemur):
    listed = run_lemur("plugins", "--json", "--kind", Kind.DATA_SOURCE.value)
    assert listed.returncode == 0, listed.stderr
    names = {item["name"] for item in json.loads(listed.stdout)["components"]}
    assert (
        TABLE_8
        | {"parquet", "hf", "code-tree", "url-list", "redpajama", "oasst1", "openorca", "sharegpt", "evol-codealpaca"}
        <= names
    )
    refused = run_lemur("data", "head", "refinedweb")
    assert refused.returncode == 2
    assert (
        refused.stderr.strip().splitlines()[-1].startswith("error: hf source 'tiiuae/falcon-refinedweb': no revision")
    )
