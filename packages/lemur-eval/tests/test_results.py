"""Run-directory files (lemur.eval.results)."""

from __future__ import annotations

import json

import pytest

from lemur.eval.results import JsonlAppender, RunDirError, drop_partial_line, read_jsonl, write_summary


def test_appender_drops_a_partial_last_line_and_continues(tmp_path):
    path = tmp_path / "b" / "results.jsonl"
    with JsonlAppender(path) as out:
        out.append({"id": "a", "score": 1.0})
        out.append({"id": "b", "score": 0.0})
    with path.open("a") as file:
        file.write('{"id": "c", "sco')  # what a SIGKILL in the middle of a write leaves
    assert list(read_jsonl(path)) == ["a", "b"]
    with JsonlAppender(path) as out:
        out.append({"id": "c", "score": 0.5})
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["a", "b", "c"]


def test_drop_partial_line_of_a_file_with_no_newline_empties_it(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "half')
    drop_partial_line(path)
    assert path.read_text() == ""


def test_read_jsonl_rejects_damaged_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "a"}\nnot json\n')
    with pytest.raises(RunDirError, match="line 2: not valid JSON"):
        read_jsonl(path)
    path.write_text('{"score": 1}\n')
    with pytest.raises(RunDirError, match="line 1: expected an object with a string 'id'"):
        read_jsonl(path)


def test_summary_is_replaced_atomically(tmp_path):
    write_summary(tmp_path, {"finished": False})
    write_summary(tmp_path, {"finished": True})
    assert json.loads((tmp_path / "summary.json").read_text()) == {"finished": True}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
