"""Fixtures for the SFT backend tests: a real BPE tokenizer, a tiny random Llama, real conversations.

The tokenizer is a byte-level BPE trained here (offline, in well under a second) on GSM8K's test
questions and answers; the conversations are GSM8K questions (user) and worked answers (assistant)
and MBPP problems (user) with their reference solutions (assistant), read from ``../shared/data``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the SFT backend needs: pip install 'lemur-train[torch]'")
pytest.importorskip("transformers", reason="the SFT backend needs: pip install 'lemur-train[torch]'")
pytest.importorskip("accelerate", reason="the SFT backend needs: pip install 'lemur-train[torch]'")

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]


def gsm8k_conversations(shared_data: Path, count: int, offset: int = 0) -> list[list[dict[str, str]]]:
    """``count`` GSM8K test problems as one-round conversations (question -> worked answer)."""
    lines = (shared_data / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()[offset : offset + count]
    records = [json.loads(line) for line in lines]
    return [
        [{"role": "user", "content": r["question"]}, {"role": "assistant", "content": r["answer"]}] for r in records
    ]


def mbpp_conversations(shared_data: Path, count: int) -> list[list[dict[str, str]]]:
    """``count`` MBPP problems as two-round conversations with a system prompt (task, code; tests)."""
    records = [json.loads(line) for line in (shared_data / "mbpp" / "mbpp.jsonl").read_text().splitlines()[:count]]
    return [
        [
            {"role": "system", "content": "You are a helpful Python programmer."},
            {"role": "user", "content": r["text"]},
            {"role": "assistant", "content": r["code"]},
            {"role": "user", "content": "Write assert statements that test it."},
            {"role": "assistant", "content": "\n".join(r["test_list"])},
        ]
        for r in records
    ]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A directory with a 2-layer random Llama and a trained byte-level BPE tokenizer (no ChatML tokens yet)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = []
    for line in (shared_data / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        texts += [record["question"], record["answer"]]
    for line in (shared_data / "mbpp" / "mbpp.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        texts += [record["text"], record["code"], *record["test_list"]]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=1024, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    bpe.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
    )
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def write_jsonl(path: Path, conversations: list[list[dict[str, str]]]) -> Path:
    """Write conversations as the SFT JSONL format; returns ``path``."""
    path.write_text("".join(json.dumps({"messages": m}) + "\n" for m in conversations), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def mbpp_chats(shared_data: Path) -> list[list[dict[str, str]]]:
    """The first 200 MBPP problems as two-round conversations with a system prompt."""
    return mbpp_conversations(shared_data, 200)


@pytest.fixture(scope="session")
def gsm8k_chats(shared_data: Path) -> list[list[dict[str, str]]]:
    """The first 200 GSM8K test problems as one-round conversations."""
    return gsm8k_conversations(shared_data, 200)


@pytest.fixture(scope="session")
def jsonl_writer():
    """The :func:`write_jsonl` helper."""
    return write_jsonl
