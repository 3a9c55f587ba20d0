"""`lemur data build` and `lemur data stats` end to end on real code and real English prose."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from lemur.data.build import build
from lemur.data.mixture import MixtureDataset, Recipe
from lemur.data.shards import PackedDataset
from lemur.data.stats import conversation_stats

INFO_MANUALS = sorted(Path("/usr/share/info").glob("*.info*.gz"))


@pytest.fixture
def recipe_file(tmp_path, stdlib_sources, llama_tokenizer_path) -> Path:
    """A two-source weighted recipe over JSONL made from 40 stdlib modules and the info manuals."""
    if len(INFO_MANUALS) < 3:
        pytest.skip("Debian info manuals (/usr/share/info/*.info.gz) are not on this machine")
    code = tmp_path / "code.jsonl"
    code.write_text("".join(json.dumps({"text": p.read_text(encoding="utf-8")}) + "\n" for p in stdlib_sources[:40]))
    books = tmp_path / "books.jsonl"
    books.write_text(
        "".join(json.dumps({"text": gzip.open(p, "rt", errors="replace").read()}) + "\n" for p in INFO_MANUALS[:6])
    )
    recipe = {
        "name": "test-mix",
        "seed": 3,
        "tokenizer": str(llama_tokenizer_path),
        "seq_len": 512,
        "tasks_per_source": 2,
        "total_tokens": 512 * 3000,
        "sources": [
            {"name": "python", "group": "code", "source": "jsonl", "options": {"paths": str(code)}, "weight": 80},
            {"name": "books", "group": "text", "source": "jsonl", "options": {"paths": str(books)}, "weight": 20},
        ],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_build_resume_and_realised_mixture(tmp_path, recipe_file, run_lemur) -> None:
    recipe = Recipe.model_validate(yaml.safe_load(recipe_file.read_text()))
    out = tmp_path / "out"
    summary = build(recipe, out, workers=1, progress=False)
    assert summary["skipped"] == [] and len(summary["ranks"]) == 4
    python = PackedDataset(out / "sources" / "python")
    python.verify()
    tokenized = sum(summary["ranks"][r]["steps"]["tokenize"]["tokens"] for r in (0, 1))
    assert sum(python.tokens_per_source().values()) == tokenized
    mixture = MixtureDataset(out)
    assert len(mixture) == 3000 and mixture[0]["tokens"].shape == (512,)
    shares = np.bincount(mixture.rows[:, 0], minlength=2) / 3000
    assert abs(shares[0] - 0.8) <= 4.5 * np.sqrt(0.8 * 0.2 / 3000)

    stamp = {p: p.stat().st_mtime_ns for p in (out / "sources").rglob("*.bin")}
    again = run_lemur("data", "build", "--recipe", str(recipe_file), "--out", str(out), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "skipped 4 finished ones" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (out / "sources").rglob("*.bin")} == stamp  # nothing rewritten

    stats = run_lemur("data", "stats", str(out))
    assert stats.returncode == 0, stats.stderr
    line = next(x for x in stats.stdout.splitlines() if x.startswith("python"))
    assert line.split()[2] == "80.00"


def test_build_into_another_recipes_directory_is_refused(tmp_path, recipe_file, run_lemur) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "recipe.json").write_text('{"name": "other"}')
    result = run_lemur("data", "build", "--recipe", str(recipe_file), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "different recipe" in result.stderr


def test_bad_recipe_exits_2_with_one_line(tmp_path, run_lemur) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nseq_len: 2\nsources: [{name: a, source: jsonl}]\n")
    result = run_lemur("data", "build", "--recipe", str(bad), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "seq_len" in result.stderr
    assert not (tmp_path / "o").exists()


def test_conversation_stats_follow_table_1_columns() -> None:
    from lemur.data.records import Document

    def words(texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    conversations = [
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "a b c"},
            {"role": "assistant", "content": "d e"},
        ],
        [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two three four"},
            {"role": "user", "content": "five six"},
            {"role": "assistant", "content": "seven"},
        ],
    ]
    documents = [Document(str(i), "", {"messages": m}) for i, m in enumerate(conversations)] + [Document("x", "plain")]
    stats = conversation_stats(documents, words)
    assert (stats.instances, stats.rounds) == (2, 3)
    assert stats.average_rounds == 1.5
    assert stats.average_prompt_length == (2 + 3 + 1 + 2) / 3
    assert stats.average_completion_length == (2 + 3 + 1) / 3
