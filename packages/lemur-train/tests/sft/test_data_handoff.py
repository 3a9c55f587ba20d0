"""lemur-data → SFT: `lemur data build --format conversations` output read by `lemur train sft`.

Real prompt/solution pairs (HumanEval) go through an SFT recipe (sampling by ``instances``),
then the written JSONL trains a tiny random Llama through the CLI; the examples the trainer
builds from it carry the ChatML special tokens with loss on exactly the solution + ``<|im_end|>``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import yaml

from lemur.train.sft.examples import load_examples
from lemur.train.sft.model import load_tokenizer
from lemur.train.sft.templates import CHATML

RECIPES = Path(__file__).resolve().parents[4] / "recipes"


def test_conversations_built_by_lemur_data_train_through_the_cli(
    run_lemur, tiny_model_dir: Path, shared_data: Path, tmp_path: Path
) -> None:
    problems = [json.loads(line) for line in gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt")]
    source = tmp_path / "humaneval.jsonl"
    with open(source, "w", encoding="utf-8") as handle:
        for problem in problems:
            messages = [
                {"role": "user", "content": problem["prompt"]},
                {"role": "assistant", "content": problem["canonical_solution"]},
            ]
            handle.write(json.dumps({"id": problem["task_id"], "text": "", "messages": messages}) + "\n")
    recipe = {
        "name": "sft-handoff",
        "seed": 2,
        "tasks_per_source": 2,
        "sources": [
            {
                "name": "humaneval",
                "source": "jsonl",
                "options": {"paths": str(source), "id_field": "id"},
                "instances": 48,
            }
        ],
    }
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    out = tmp_path / "data"
    built = run_lemur("data", "build", "--recipe", str(recipe_file), "--out", str(out), "--format", "conversations")
    assert built.returncode == 0, built.stderr[-2000:]
    conversations = out / "conversations.jsonl"
    assert f"conversations: 48 in {conversations}" in built.stdout

    tokenizer = load_tokenizer(str(tiny_model_dir), CHATML)
    examples = load_examples(conversations, tokenizer, CHATML, max_length=2048)
    assert len(examples) == 48
    solutions = {p["canonical_solution"] + "<|im_end|>" for p in problems}
    start, end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    for example, line in zip(examples, conversations.read_text(encoding="utf-8").splitlines(), strict=True):
        messages = json.loads(line)["messages"]
        assert example.tokens.tolist() == list(
            tokenizer.apply_chat_template(messages, chat_template=CHATML.jinja, return_dict=False)
        )
        assert (example.tokens == start).sum() == 2 and (example.tokens == end).sum() == 2
        trained = tokenizer.decode(example.tokens[example.loss_mask].tolist())
        assert trained in solutions and trained == messages[1]["content"] + "<|im_end|>"
        assert example.tokens[np.flatnonzero(example.loss_mask)[-1]] == end

    config = yaml.safe_load((RECIPES / "lemur-chat-sft-tiny.yaml").read_text(encoding="utf-8"))
    config["data"]["max_length"] = 2048  # HumanEval prompts exceed the tiny recipe's 256 tokens
    config_file = tmp_path / "sft.yaml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    args = ["train", "sft", "--config", str(config_file), "--model", str(tiny_model_dir), "--data", str(conversations)]
    trained = run_lemur(*args, "--run-dir", str(tmp_path / "run"), "--stop-at-step", "1", "--no-progress", timeout=300)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert trained.stdout.strip().startswith("sft: step 1/6 in ")  # 48 conversations / 8 per step
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["examples"] == 48 and np.isfinite(summary["last_loss"])


def test_packed_shards_with_chatml_tokens_equal_the_jsonl_route(tiny_model_dir: Path, shared_data: Path, tmp_path):
    """A packed `lemur data build` with a ChatML vocabulary gives the SFT backend's exact ids and mask."""
    from lemur.data.build import build
    from lemur.data.mixture import Recipe
    from lemur.train.sft.examples import encode_conversation

    tokenizer = load_tokenizer(str(tiny_model_dir), CHATML)
    vocabulary = tmp_path / "chatml-tokenizer"
    tokenizer.save_pretrained(vocabulary)
    conversations = []
    for line in (shared_data / "mbpp" / "mbpp.jsonl").read_text(encoding="utf-8").splitlines()[:24]:
        record = json.loads(line)
        conversations.append(
            [
                {"role": "system", "content": "You write Python."},
                {"role": "user", "content": record["text"]},
                {"role": "assistant", "content": record["code"]},
                {"role": "user", "content": "Tests?"},
                {"role": "assistant", "content": "\n".join(record["test_list"])},
            ]
        )
    source = tmp_path / "mbpp.jsonl"
    source.write_text("".join(json.dumps({"text": "", "messages": m}) + "\n" for m in conversations))
    recipe = {
        "name": "sft-packed",
        "tokenizer": str(vocabulary),
        "seq_len": 2048,
        "sources": [{"name": "mbpp", "source": "jsonl", "options": {"paths": str(source)}}],
    }
    build(Recipe.model_validate(recipe), tmp_path / "out", workers=1, progress=False)
    packed = load_examples(tmp_path / "out", tokenizer, CHATML, max_length=2048)  # refuses text markers
    reference = [encode_conversation(tokenizer, CHATML, m, 2048) for m in conversations]

    def key(example) -> tuple[tuple[int, ...], tuple[bool, ...]]:
        return tuple(example.tokens.tolist()), tuple(example.loss_mask.tolist())

    assert sorted(map(key, packed)) == sorted(map(key, reference))
    assert len(packed) == 24
