"""Parquet, Hugging Face (local files) and code-tree sources on real text and code."""

from __future__ import annotations

import json
import shutil
import sysconfig
from pathlib import Path

import pytest

from lemur.core.errors import LemurError
from lemur.data.sources.code_tree import CodeTreeSource, language_of
from lemur.data.sources.hf import HFSource
from lemur.data.sources.parquet import ParquetSource

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def test_code_tree_reads_the_json_package_with_stable_relative_ids():
    root = STDLIB / "json"
    documents = list(CodeTreeSource(root))
    expected = sorted(p.relative_to(root).as_posix() for p in root.glob("*.py") if p.stat().st_size > 0)
    assert sorted(d.id for d in documents if "/" not in d.id) == expected
    assert all(d.metadata["language"] == "python" for d in documents)
    first = next(d for d in documents if d.id == "decoder.py")
    assert first.text == (root / "decoder.py").read_text(encoding="utf-8")
    assert first.metadata["size"] == (root / "decoder.py").stat().st_size
    assert [d.id for d in CodeTreeSource(root)] == [d.id for d in documents]


def test_code_tree_skips_binary_small_large_and_hidden(tmp_path):
    shutil.copy(STDLIB / "json" / "decoder.py", tmp_path / "decoder.py")
    shutil.copy(STDLIB / "json" / "encoder.py", tmp_path / "big.py")
    compiled = next((STDLIB / "json" / "__pycache__").glob("*.pyc"), None) if (STDLIB / "json").exists() else None
    if compiled is None:
        pytest.skip("no compiled stdlib file to use as a real binary")
    shutil.copy(compiled, tmp_path / "binary.py")
    (tmp_path / "empty.sql").write_text("")
    (tmp_path / ".hidden").mkdir()
    shutil.copy(STDLIB / "json" / "scanner.py", tmp_path / ".hidden" / "scanner.py")
    (tmp_path / "notes.xyz").write_text("unknown extension")
    limit = (tmp_path / "big.py").stat().st_size - 1
    source = CodeTreeSource(tmp_path, max_bytes=max(limit, (tmp_path / "decoder.py").stat().st_size))
    ids = [d.id for d in source]
    assert ids == ["decoder.py"]
    assert source.skipped == {"binary": 1, "too_small": 1, "too_large": 1}
    assert [d.id for d in CodeTreeSource(tmp_path, include_hidden=True, languages="python")][-1] == ".hidden/scanner.py"


def test_code_tree_errors_and_languages(tmp_path):
    assert language_of("a/b.CPP") == "c++" and language_of("x.ipynb") == "jupyter-notebook"
    assert language_of("README") is None
    with pytest.raises(LemurError, match="is not a directory"):
        CodeTreeSource(tmp_path / "missing")
    with pytest.raises(LemurError, match="unknown language 'cobol'"):
        CodeTreeSource(tmp_path, languages=["cobol"])


def test_parquet_streams_row_groups_of_real_articles(tmp_path, enwiki_articles):
    pa = pytest.importorskip("pyarrow", reason="needs 'pyarrow': pip install 'lemur-data[parquet]'")
    import pyarrow.parquet as pq

    titles, texts = list(enwiki_articles), list(enwiki_articles.values())
    table = pa.table({"title": titles, "text": texts, "chars": [len(t) for t in texts]})
    path = tmp_path / "wiki.parquet"
    pq.write_table(table, path, row_group_size=7)
    assert pq.ParquetFile(path).num_row_groups > 10
    documents = list(ParquetSource(str(path), id_field="title", batch_size=3))
    assert [d.id for d in documents] == titles and [d.text for d in documents] == texts
    assert documents[5].metadata == {"chars": len(texts[5])}
    unnamed = list(ParquetSource([path, path], columns=[]))
    assert len(unnamed) == 2 * len(texts) and unnamed[-1].id == f"wiki.parquet:{len(texts) - 1}"
    with pytest.raises(LemurError, match="no column 'content'"):
        list(ParquetSource(path, text_field="content"))
    with pytest.raises(LemurError, match="does not exist"):
        ParquetSource(tmp_path / "nope.parquet")


def test_hf_source_reads_local_json_with_datasets(tmp_path, enwiki_articles):
    pytest.importorskip("datasets", reason="needs 'datasets': pip install 'lemur-data[hf]'")
    rows = [{"title": t, "text": x} for t, x in list(enwiki_articles.items())[:25]]
    path = tmp_path / "wiki.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    for streaming in (True, False):
        documents = list(HFSource("json", data_files=str(path), id_field="title", streaming=streaming))
        assert [(d.id, d.text) for d in documents] == [(r["title"], r["text"]) for r in rows]
    joined = next(iter(HFSource("json", data_files=str(path), text_field=["title", "text"])))
    assert joined.text == rows[0]["title"] + "\n" + rows[0]["text"]
    with pytest.raises(LemurError, match="has no field 'content'"):
        next(iter(HFSource("json", data_files=str(path), text_field="content")))


def test_hf_hub_dataset_without_revision_is_refused():
    pytest.importorskip("datasets", reason="needs 'datasets': pip install 'lemur-data[hf]'")
    with pytest.raises(LemurError, match="pin a revision with revision="):
        HFSource("bigcode/the-stack-dedup", data_dir="data/python")


def test_hf_source_reads_a_local_dataset_directory(tmp_path, enwiki_articles):
    pa = pytest.importorskip("pyarrow", reason="needs 'pyarrow': pip install 'lemur-data[hf]'")
    pytest.importorskip("datasets", reason="needs 'datasets': pip install 'lemur-data[hf]'")
    import pyarrow.parquet as pq

    titles, texts = list(enwiki_articles)[:12], list(enwiki_articles.values())[:12]
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"title": titles, "text": texts}), tmp_path / "data" / "train-00000-of-00001.parquet")
    documents = list(HFSource(str(tmp_path), id_field="title"))
    assert [(d.id, d.text) for d in documents] == list(zip(titles, texts, strict=True))


def test_lemur_data_head_reads_a_code_tree(run_lemur):
    result = run_lemur("data", "head", "code-tree", "-o", f"root={STDLIB / 'json'}", "-n", "2")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in rows] == ["__init__.py", "decoder.py"]
    assert rows[0]["metadata"]["language"] == "python"
    missing = run_lemur("data", "head", "code-tree", "-o", "root=/nonexistent/dir")
    assert missing.returncode == 2
    assert (
        missing.stderr.strip().splitlines()[-1] == "error: code-tree source: root '/nonexistent/dir' is not a directory"
    )
