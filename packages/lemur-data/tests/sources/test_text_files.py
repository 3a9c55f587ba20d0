"""The text-files source: one document per real file, gzip or plain."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lemur.core.errors import LemurError
from lemur.data.sources.text_files import TextFilesSource

INFO = sorted(Path("/usr/share/info").glob("*.info*.gz"))


def test_reads_gzip_manuals_and_plain_files(tmp_path, stdlib_sources) -> None:
    if not INFO:
        pytest.skip("Debian info manuals (/usr/share/info/*.info.gz) are not on this machine")
    documents = list(TextFilesSource([str(INFO[0]), str(stdlib_sources[0])]))
    assert [d.id for d in documents] == sorted([str(INFO[0]), str(stdlib_sources[0])])
    by_id = {d.id: d.text for d in documents}
    assert by_id[str(INFO[0])] == gzip.open(INFO[0], "rt", errors="replace").read()
    assert by_id[str(stdlib_sources[0])] == stdlib_sources[0].read_text(encoding="utf-8")


def test_recursive_glob_and_min_bytes(tmp_path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "long.txt").write_text("x" * 100)
    (tmp_path / "a" / "short.txt").write_text("x")
    documents = list(TextFilesSource(str(tmp_path / "**" / "*.txt"), min_bytes=10))
    assert [Path(d.id).name for d in documents] == ["long.txt"]


def test_no_match_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(LemurError, match="no file matches"):
        TextFilesSource(str(tmp_path / "*.nothing"))
