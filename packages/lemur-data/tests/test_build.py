"""`lemur data build` and `lemur data stats` end to end on real code and real English prose."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from lemur.core.datafiles import DataFileError
from lemur.core.errors import LemurError
from lemur.data.build import SourceShardTask, build
from lemur.data.mixture import MixtureDataset, Recipe, open_dataset
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
    summary = build(recipe, out, workers=2, progress=False)  # two spawned worker processes
    assert summary["skipped"] == [] and len(summary["ranks"]) == 4
    python = PackedDataset(out / "sources" / "python")
    python.verify()
    tokenized = sum(summary["ranks"][r]["steps"]["tokenize"]["tokens"] for r in (0, 1))
    assert sum(python.tokens_per_source().values()) == tokenized
    mixture = MixtureDataset(out)
    assert len(mixture) == 3000 and mixture[0]["tokens"].shape == (512,)
    shares = np.bincount(mixture.rows[:, 0], minlength=2) / 3000
    assert abs(shares[0] - 0.8) <= 4.5 * np.sqrt(0.8 * 0.2 / 3000)
    assert isinstance(open_dataset(out), MixtureDataset)
    with pytest.raises(LemurError, match="open_dataset"):
        PackedDataset(out)
    rows = mixture.iter_rows(seed=1, start=2999)
    assert [next(rows)[0] for _ in range(3)] == [2999, 3000, 3001]
    assert np.array_equal(next(mixture.iter_rows(seed=1, start=5))[1]["tokens"], mixture[5]["tokens"])

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


def test_sft_build_masks_prompts_and_stats_match_table_1_columns(
    tmp_path, shared_data, llama_tokenizer_path, run_lemur
):
    """Real prompt/solution pairs (HumanEval) as one-round conversations, through build and stats."""
    from tokenizers import Tokenizer

    problems = [json.loads(line) for line in gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt")]
    conversations = tmp_path / "humaneval.jsonl"
    with open(conversations, "w") as handle:
        for problem in problems:
            messages = [
                {"role": "user", "content": problem["prompt"]},
                {"role": "assistant", "content": problem["canonical_solution"]},
            ]
            handle.write(json.dumps({"id": problem["task_id"], "text": "", "messages": messages}) + "\n")
    recipe = {
        "name": "sft-test",
        "seed": 1,
        "tokenizer": str(llama_tokenizer_path),
        "seq_len": 1024,
        "sources": [
            {
                "name": "humaneval",
                "source": "jsonl",
                "options": {"paths": str(conversations), "id_field": "id"},
                "instances": 50,
                "paper": {"instances": 164, "rounds": 1.0, "prompt_len": 130.5},
            }
        ],
    }
    recipe_file = tmp_path / "sft.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    summary = build(Recipe.model_validate(recipe), out, workers=1, progress=False)
    assert summary["ranks"][0]["steps"]["tokenize"]["conversations"] == 50
    dataset = PackedDataset(out / "sources" / "humaneval")
    tokenizer = Tokenizer.from_file(str(llama_tokenizer_path))
    tokenizer.encode_special_tokens = True
    solutions_by_text = {p["canonical_solution"] + "<|im_end|>\n": p["prompt"] for p in problems}
    documents = _documents(dataset)
    assert len(documents) == 50
    matched = set()
    for tokens, mask in documents:
        assert tokens[0] == 1 and tokens[-1] == 2 and mask[-1] == 1 and mask[0] == 0
        reply = tokenizer.decode(tokens[mask == 1][:-1].tolist())
        assert reply in solutions_by_text  # exactly one reply is trained on, and it is the solution
        prompt = tokenizer.decode(tokens[mask == 0].tolist())
        assert solutions_by_text[reply].strip() in prompt  # the prompt is present but never trained on
        matched.add(reply)
    assert len(matched) == 50

    # Recipe mode counts the raw source (all 164, before `instances`), and says so; the build
    # directory gives the 50 that were built, each checked against the tokenizer here.
    result = run_lemur("data", "stats", str(recipe_file))
    assert result.returncode == 0, result.stderr
    assert "raw source, before `instances` sampling" in result.stdout.splitlines()[0]
    by_solution = {p["canonical_solution"] + "<|im_end|>\n": p for p in problems}
    for text, chosen in ((result.stdout, problems), (None, [by_solution[reply] for reply in matched])):
        if text is None:
            built = run_lemur("data", "stats", str(out))
            assert built.returncode == 0, built.stderr
            text = built.stdout
        fields = next(x for x in text.splitlines() if x.startswith("humaneval")).split()
        prompts = tokenizer.encode_batch([p["prompt"] for p in chosen], add_special_tokens=False)
        solutions = tokenizer.encode_batch([p["canonical_solution"] for p in chosen], add_special_tokens=False)
        assert fields[1:4] == ["50", f"{len(chosen):,}", "1.00"]
        assert float(fields[4].replace(",", "")) == pytest.approx(np.mean([len(e.ids) for e in prompts]), abs=0.006)
        assert float(fields[5].replace(",", "")) == pytest.approx(np.mean([len(e.ids) for e in solutions]), abs=0.006)
        published = next(x for x in text.splitlines() if x.strip().startswith("humaneval (paper)")).split()
        assert published[2:] == ["-", "164", "1.00", "130.50", "-", "100.00", "-"]

    recipe["sources"][0]["paper"] = {"turns": 2}
    recipe_file.write_text(yaml.safe_dump(recipe))
    result = run_lemur("data", "stats", str(recipe_file))
    assert result.returncode == 2 and "turns" in result.stderr and result.stdout == ""


def _documents(dataset: PackedDataset) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each packed document's (tokens, loss mask), reassembled from its chunks via the segment table."""
    chunks: dict[tuple[int, int], list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for number, shard in enumerate(dataset.shards):
        tokens, segment_ids, masks = (shard.arrays[k] for k in ("tokens", "segment_ids", "loss_mask"))
        for row, segment, document, offset, _length, _source in shard.arrays["segments"].tolist():
            where = segment_ids[row] == segment
            chunks.setdefault((number, document), []).append((offset, tokens[row][where], masks[row][where]))
    documents = []
    for parts in chunks.values():
        parts.sort(key=lambda part: part[0])
        documents.append((np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])))
    return documents


@pytest.mark.slow
def test_mini_lemur_recipe_builds_on_local_files(tmp_path, llama_tokenizer_path) -> None:
    """The shipped mini recipe (used by `make demo`) builds, and its mixture is within sampling error."""
    from lemur.data.mixture import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[3] / "recipes" / "mini-lemur.yaml")
    if len(INFO_MANUALS) < 3:
        pytest.skip("Debian info manuals (/usr/share/info/*.info.gz) are not on this machine")
    summary = build(recipe, tmp_path / "out", workers=1, progress=False)
    mixture = MixtureDataset(tmp_path / "out")
    assert len(mixture) == summary["mixture"]["rows"] == recipe.total_tokens // recipe.seq_len
    share = summary["mixture"]["rows_per_source"]["python"] / len(mixture)
    assert abs(share - 0.9091) <= 4.5 * np.sqrt(0.9091 * 0.0909 / len(mixture))
    fill = [summary["ranks"][r]["steps"]["pack"] for r in summary["ranks"]]
    assert sum(f["tokens"] for f in fill) / sum(f["slots"] for f in fill) >= 0.98


def test_a_source_that_shards_by_file_reads_only_its_own_files(tmp_path, llama_tokenizer_path) -> None:
    """With tasks_per_source=2, shard 0 of a url-list source opens files 0 and 2 only (1 and 3 do not exist)."""
    base = "https://corpus.invalid/v1"
    urls = [f"{base}/part-{k}.jsonl" for k in range(4)]
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for k in (0, 2):
        rows = [{"text": f"document {j} of part {k}", "meta": {"part": k}} for j in range(3)]
        (mirror / f"part-{k}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    options = {"urls": urls, "base_url": base, "mirror": str(mirror), "manifest": str(tmp_path / "sha256.jsonl")}
    recipe = Recipe.model_validate(
        {
            "name": "by-file",
            "tokenizer": str(llama_tokenizer_path),
            "seq_len": 64,
            "tasks_per_source": 2,
            "sources": [{"name": "web", "group": "text", "source": "url-list", "options": options}],
        }
    )
    task = SourceShardTask(recipe, str(tmp_path / "out"))
    documents = list(task.documents(recipe.sources[0], 0))
    assert [(d.metadata["part"], d.text) for d in documents] == [
        (k, f"document {j} of part {k}") for k in (0, 2) for j in range(3)
    ]
    assert {d.metadata["source"] for d in documents} == {"web"}
    with pytest.raises(DataFileError, match="part-1"):  # shard 1's first file is not in the mirror
        list(task.documents(recipe.sources[0], 1))
