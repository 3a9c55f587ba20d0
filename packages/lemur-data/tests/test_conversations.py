"""`lemur data build --format conversations` on real prompt/solution pairs (HumanEval, MBPP)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml

from lemur.data.conversations import export_conversations
from lemur.data.mixture import Recipe
from lemur.data.sources.conversation import render


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def sft_recipe(tmp_path: Path, shared_data: Path) -> dict:
    """Two SFT sources: all HumanEval (with 20 exact duplicates and one plain-text line) and 40 of 500 MBPP."""
    problems = [json.loads(line) for line in gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt")]
    humaneval = []
    for problem in problems:
        messages = [
            {"role": "user", "content": problem["prompt"]},
            {"role": "assistant", "content": problem["canonical_solution"]},
        ]
        humaneval.append({"id": problem["task_id"], "text": render(messages), "messages": messages})
    # Row i is at position i and its copy at 165 + i, so they fall in different ones of the 2 shards:
    # exact-dedup compares every shard (the build's global dedup), not one shard at a time, and keeps
    # whichever is first in (shard, position) order: the original for even i, the copy for odd i.
    rows = [*humaneval, {"id": "plain", "text": "a plain-text document, not a conversation"}]
    rows += [{**row, "id": row["id"] + "/copy"} for row in humaneval[:20]]
    mbpp = []
    for line in (shared_data / "mbpp" / "mbpp.jsonl").read_text(encoding="utf-8").splitlines()[:500]:
        record = json.loads(line)
        messages = [{"role": "user", "content": record["text"]}, {"role": "assistant", "content": record["code"]}]
        mbpp.append({"id": f"mbpp/{record['task_id']}", "text": render(messages), "messages": messages})
    return {
        "name": "sft-conversations-test",
        "seed": 5,
        "tasks_per_source": 2,
        "sources": [
            {
                "name": "humaneval",
                "source": "jsonl",
                "options": {"paths": str(_write(tmp_path / "humaneval.jsonl", rows)), "id_field": "id"},
                "steps": [{"step": "exact-dedup"}],
            },
            {
                "name": "mbpp",
                "source": "jsonl",
                "options": {"paths": str(_write(tmp_path / "mbpp.jsonl", mbpp)), "id_field": "id"},
                "instances": 40,
            },
        ],
        "_truth": {r["id"]: r["messages"] for r in rows + mbpp if "messages" in r},
    }


def _recipe(raw: dict, **update) -> Recipe:
    return Recipe.model_validate({k: v for k, v in {**raw, **update}.items() if not k.startswith("_")})


def test_conversations_are_sampled_filtered_mixed_and_exact(tmp_path: Path, sft_recipe: dict) -> None:
    summary = export_conversations(_recipe(sft_recipe), tmp_path / "a", workers=1, progress=False)
    lines = [json.loads(x) for x in (tmp_path / "a" / "conversations.jsonl").read_text().splitlines()]
    assert summary["conversations"] == len(lines) == 164 + 40
    truth = sft_recipe["_truth"]
    for line in lines:
        assert line["messages"] == truth[line["id"]]  # the source's messages, unchanged
        assert line["source"] == ("humaneval" if line["id"].startswith("HumanEval/") else "mbpp")
    ids = [line["id"] for line in lines]
    originals = [i.removesuffix("/copy") for i in ids if i.startswith("HumanEval/")]
    assert len(set(originals)) == len(originals) == 164  # one of each duplicate pair kept
    assert sorted(i for i in ids if i.endswith("/copy")) == sorted(f"HumanEval/{k}/copy" for k in range(1, 20, 2))
    assert sum(i.startswith("mbpp/") for i in ids) == 40
    assert sum(summary["ranks"][r]["not_conversations"] for r in (0, 1)) == 1
    removed = sum(summary["ranks"][r]["steps"]["exact-dedup"]["dropped"] for r in (0, 1))
    assert removed == 20, summary["ranks"][0]["steps"]
    sources = [line["source"] for line in lines]
    assert sources != sorted(sources) and sources[:40] != ["humaneval"] * 40  # mixed, not concatenated

    again = export_conversations(_recipe(sft_recipe), tmp_path / "b", workers=1, progress=False)
    assert again["conversations"] == 204
    assert (tmp_path / "a" / "conversations.jsonl").read_bytes() == (
        tmp_path / "b" / "conversations.jsonl"
    ).read_bytes()
    export_conversations(_recipe(sft_recipe, seed=6), tmp_path / "c", workers=1, progress=False)
    other = [json.loads(x)["id"] for x in (tmp_path / "c" / "conversations.jsonl").read_text().splitlines()]
    assert other != ids and {i for i in other if i.startswith("HumanEval/")} == {i for i in ids if "HumanEval/" in i}


def test_cli_resumes_an_interrupted_export(tmp_path: Path, sft_recipe: dict, run_lemur) -> None:
    recipe_file = tmp_path / "sft.yaml"
    recipe_file.write_text(yaml.safe_dump({k: v for k, v in sft_recipe.items() if not k.startswith("_")}))
    out = tmp_path / "out"
    args = ["data", "build", "--recipe", str(recipe_file), "--out", str(out), "--format", "conversations"]
    first = run_lemur(*args, "--no-progress")
    assert first.returncode == 0, first.stderr
    assert f"conversations: 204 in {out / 'conversations.jsonl'}" in first.stdout
    expected = (out / "conversations.jsonl").read_bytes()
    # Simulate a run killed after rank 0 of mbpp (rank 2) finished but before rank 3 and the merge.
    (out / "conversations.jsonl").unlink()
    (out / "conversations" / "mbpp" / "shard-00001.jsonl").unlink()
    (out / "logs" / "conversations" / "completions" / "00003").unlink()
    kept = (out / "conversations" / "humaneval" / "shard-00000.jsonl").stat().st_mtime_ns
    second = run_lemur(*args, "--no-progress")
    assert second.returncode == 0, second.stderr
    assert "built 1 shards, skipped 3 finished ones" in second.stdout
    assert (out / "conversations.jsonl").read_bytes() == expected
    assert (out / "conversations" / "humaneval" / "shard-00000.jsonl").stat().st_mtime_ns == kept


def test_weighted_recipe_is_refused_with_one_line(tmp_path: Path, sft_recipe: dict, run_lemur) -> None:
    raw = {k: v for k, v in sft_recipe.items() if not k.startswith("_")}
    raw["sources"] = [{**s, "weight": 50} for s in raw["sources"]]
    recipe_file = tmp_path / "weighted.yaml"
    recipe_file.write_text(yaml.safe_dump(raw))
    result = run_lemur(
        "data", "build", "--recipe", str(recipe_file), "--out", str(tmp_path / "o"), "--format", "conversations"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "weighted pre-training" in lines[-1]
    assert not (tmp_path / "o").exists()
