"""`lemur data stats` on SFT recipes and builds, checked against an independent token count; build progress."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from lemur.core.errors import LemurError
from lemur.data.build import build
from lemur.data.conversations import export_conversations
from lemur.data.executors import LocalExecutor, track_progress
from lemur.data.mixture import Recipe, open_dataset
from lemur.data.shards import PackedDataset

#: Table 1 figures of two real rows (Evol-CodeAlpaca, ShareGPT & Chatlogs), as a recipe's `paper:` entries.
EVOL = {"instances": 51952, "rounds": 1.0, "prompt_len": 93.9, "completion_len": 343.5}
SHAREGPT = {"instances": 81319, "rounds": 6.0, "prompt_len": 96.7, "completion_len": 340.2}
SYSTEM = "Solve the problem step by step."
PLANTED = 5


@pytest.fixture
def sft_recipe(tmp_path, shared_data, llama_tokenizer_path) -> Path:
    """HumanEval as one-round conversations (sample 30) and GSM8K question pairs as two-round ones with a
    system prompt (all of them), plus 5 planted conversations with Cyrillic runs that the recipe's
    non-English filter drops; 2 shards per source."""
    problems = [json.loads(line) for line in gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt")]
    questions = [json.loads(line) for line in open(shared_data / "gsm8k" / "test.jsonl")][:200]

    def line(identifier: str, messages: list[dict[str, str]]) -> str:
        text = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)
        return json.dumps({"id": identifier, "text": text, "messages": messages}) + "\n"

    with open(tmp_path / "humaneval.jsonl", "w") as handle:
        for problem in problems:
            messages = [
                {"role": "user", "content": problem["prompt"]},
                {"role": "assistant", "content": problem["canonical_solution"]},
            ]
            handle.write(line(problem["task_id"], messages))
    with open(tmp_path / "gsm8k.jsonl", "w") as handle:
        for k in range(0, len(questions), 2):
            first, second = questions[k], questions[k + 1]
            messages = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": first["question"]},
                {"role": "assistant", "content": first["answer"]},
                {"role": "user", "content": second["question"]},
                {"role": "assistant", "content": second["answer"]},
            ]
            handle.write(line(f"gsm8k-{k}", messages))
        for k in range(PLANTED):
            messages = [
                {"role": "user", "content": questions[k]["question"]},
                {"role": "assistant", "content": f"Ответ: {questions[k]['answer']}"},
            ]
            handle.write(line(f"planted-{k}", messages))
    recipe = {
        "name": "stats-test",
        "seed": 7,
        "tokenizer": str(llama_tokenizer_path),
        "seq_len": 1024,
        "tasks_per_source": 2,
        "steps": [{"step": "non-english-runs"}],
        "sources": [
            {
                "name": "humaneval",
                "source": "jsonl",
                "options": {"paths": str(tmp_path / "humaneval.jsonl"), "id_field": "id"},
                "instances": 30,
                "paper": EVOL,
            },
            {
                "name": "gsm8k",
                "source": "jsonl",
                "options": {"paths": str(tmp_path / "gsm8k.jsonl"), "id_field": "id"},
                "paper": SHAREGPT,
            },
        ],
    }
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def table(stdout: str) -> dict[str, list[str]]:
    """Rows of a `lemur data stats` SFT table by first cell ("name" or "name (paper)"), commas removed."""
    rows = {}
    for text in stdout.splitlines():
        fields = text.replace(",", "").split()
        if text.startswith("  ") and "(paper)" in text:
            rows[f"{fields[0]} (paper)"] = fields[2:]
        elif fields and fields[0] in ("humaneval", "gsm8k"):
            rows[fields[0]] = fields[1:]
    return rows


def independent_figures(conversations: Path, tokenizer_path: Path) -> dict[str, tuple[int, float, float, float]]:
    """Per source: (instances, rounds per conversation, prompt and completion tokens per round), counted here
    with plain `tokenizers.encode_batch` (encode_special_tokens on, as every Lemur tokenizer is)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.encode_special_tokens = True
    by_source: dict[str, list[list[dict[str, str]]]] = {}
    for text in conversations.read_text().splitlines():
        record = json.loads(text)
        by_source.setdefault(record["source"], []).append(record["messages"])
    figures = {}
    for source, chats in by_source.items():
        prompt = completion = rounds = 0
        for messages in chats:
            lengths = [
                len(e.ids) for e in tokenizer.encode_batch([m["content"] for m in messages], add_special_tokens=False)
            ]
            pending = 0
            for message, length in zip(messages, lengths, strict=True):
                if message["role"] == "assistant":
                    rounds, prompt, completion, pending = rounds + 1, prompt + pending, completion + length, 0
                else:
                    pending += length
        figures[source] = (len(chats), rounds / len(chats), prompt / rounds, completion / rounds)
    return figures


def assert_measured(row: list[str], expected: tuple[int, float, float, float]) -> None:
    instances, rounds, prompt, completion = expected
    assert int(row[1]) == instances
    assert [float(x) for x in row[2:5]] == pytest.approx([rounds, prompt, completion], abs=0.006)


def test_recipe_stats_say_raw_and_realised_applies_sampling_and_steps(sft_recipe, run_lemur) -> None:
    raw = run_lemur("data", "stats", str(sft_recipe))
    assert raw.returncode == 0, raw.stderr
    assert "raw source, before `instances` sampling and the recipe's steps" in raw.stdout.splitlines()[0]
    rows = table(raw.stdout)
    assert rows["humaneval"][:3] == ["30", "164", "1.00"]  # target 30, but the raw set counted
    assert rows["gsm8k"][:2] == ["all", f"{100 + PLANTED}"]

    realised = run_lemur("data", "stats", str(sft_recipe), "--realised", "--workers", "1", timeout=180)
    assert realised.returncode == 0, realised.stderr
    assert "realised, after `instances` sampling" in realised.stdout.splitlines()[0]
    rows = table(realised.stdout)
    assert rows["humaneval"][:3] == ["30", "30", "1.00"]
    assert rows["gsm8k"][:3] == ["all", "100", "2.00"]  # the planted Cyrillic conversations were filtered out
    assert float(rows["humaneval"][5]) == pytest.approx(100 * 30 / 130, abs=0.006)

    both = run_lemur("data", "stats", str(sft_recipe), "--realised", "--limit", "5")
    assert both.returncode == 2 and "--limit" in both.stderr


def test_stats_of_packed_and_conversations_builds_match_an_independent_count(
    tmp_path, sft_recipe, llama_tokenizer_path, run_lemur
) -> None:
    recipe = Recipe.model_validate(yaml.safe_load(sft_recipe.read_text()))
    conversations_out, packed_out = tmp_path / "conversations", tmp_path / "packed"
    export_conversations(recipe, conversations_out, workers=1, progress=False)
    summary = build(recipe, packed_out, workers=2, progress=True)  # spawned workers report progress by file
    expected = independent_figures(conversations_out / "conversations.jsonl", llama_tokenizer_path)
    assert {name: figures[0] for name, figures in expected.items()} == {"humaneval": 30, "gsm8k": 100}
    paper_instances = 100 * EVOL["instances"] / (EVOL["instances"] + SHAREGPT["instances"])
    evol_tokens = EVOL["instances"] * EVOL["rounds"] * (EVOL["prompt_len"] + EVOL["completion_len"])
    share_tokens = SHAREGPT["instances"] * SHAREGPT["rounds"] * (SHAREGPT["prompt_len"] + SHAREGPT["completion_len"])

    for out in (conversations_out, packed_out):
        result = run_lemur("data", "stats", str(out))
        assert result.returncode == 0, result.stderr
        rows = table(result.stdout)
        for name in ("humaneval", "gsm8k"):
            assert_measured(rows[name], expected[name])
        assert float(rows["humaneval"][5]) == pytest.approx(100 * 30 / 130, abs=0.006)
        assert rows["humaneval (paper)"][:5] == ["-", "51952", "1.00", "93.90", "343.50"]
        assert float(rows["humaneval (paper)"][5]) == pytest.approx(paper_instances, abs=0.006)
        assert float(rows["gsm8k (paper)"][6]) == pytest.approx(
            100 * share_tokens / (evol_tokens + share_tokens), abs=0.006
        )
        if out == conversations_out:
            content = {n: f[0] * f[1] * (f[2] + f[3]) for n, f in expected.items()}  # prompt + completion tokens
            share = 100 * content["humaneval"] / sum(content.values())
        else:  # packed tokens, counted from the shards' segment tables
            lengths = {}
            for name in ("humaneval", "gsm8k"):
                shards = PackedDataset(packed_out / "sources" / name).shards
                lengths[name] = sum(int(shard.arrays["segments"][:, 4].sum()) for shard in shards)
            share = 100 * lengths["humaneval"] / sum(lengths.values())
        assert float(rows["humaneval"][6]) == pytest.approx(share, abs=0.006)

    # Progress: the spawned ranks wrote how many documents and tokens they tokenized.
    progress = [json.loads(p.read_text()) for p in sorted((packed_out / "logs" / "progress").glob("*.json"))]
    tokenize = [summary["ranks"][rank]["steps"]["tokenize"] for rank in range(4)]
    assert len(progress) == 4
    assert sum(p["documents"] for p in progress) == sum(t["documents"] for t in tokenize) == 130
    assert sum(p["tokens"] for p in progress) == sum(t["tokens"] for t in tokenize)

    with pytest.raises(LemurError, match="conversations"):
        open_dataset(conversations_out)


def test_stats_of_a_build_with_nothing_built_is_one_line(tmp_path, sft_recipe, run_lemur) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    recipe = Recipe.model_validate(yaml.safe_load(sft_recipe.read_text()))
    (out / "recipe.json").write_text(json.dumps(recipe.model_dump(mode="json")))
    result = run_lemur("data", "stats", str(out))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "lemur data build" in result.stderr


class CountingTask:
    """Passes ``rank + 10`` items through :func:`track_progress`, each worth ``item`` tokens."""

    def __call__(self, rank: int, world_size: int) -> dict:
        return {"seen": sum(1 for _ in track_progress(range(rank + 10), lambda item: item))}


def test_progress_files_are_summed_into_the_bar(tmp_path, capsys) -> None:
    results = LocalExecutor(2, tmp_path / "logs", workers=1, progress=True).run(CountingTask())
    assert results == {0: {"seen": 10}, 1: {"seen": 11}}
    files = {p.name: json.loads(p.read_text()) for p in (tmp_path / "logs" / "progress").glob("*.json")}
    assert files == {
        "00000.json": {"documents": 10, "tokens": sum(range(10))},
        "00001.json": {"documents": 11, "tokens": sum(range(11))},
    }
    assert "21 docs" in capsys.readouterr().err  # the bar's postfix: documents of both ranks

    LocalExecutor(2, tmp_path / "quiet", workers=1, progress=False).run(CountingTask())
    assert not (tmp_path / "quiet" / "progress").exists()  # --no-progress: nothing counted or written
    assert list(track_progress(iter("ab"))) == ["a", "b"]  # outside a rank: passes through
    assert np.array_equal(np.arange(3), np.array(list(track_progress(range(3)))))


def test_ray_address_needs_the_ray_executor(tmp_path, sft_recipe, run_lemur) -> None:
    result = run_lemur("data", "build", "--recipe", str(sft_recipe), "--out", str(tmp_path / "o"), "--ray-address", "x")
    assert result.returncode == 2 and "--executor ray" in result.stderr
    assert not (tmp_path / "o").exists()
