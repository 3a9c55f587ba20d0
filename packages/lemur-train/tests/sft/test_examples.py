"""The loss mask of multi-turn ChatML conversations, checked token by token against an id-level reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lemur.core.errors import ConfigError, LemurError
from lemur.train.sft.examples import encode_conversation, load_examples
from lemur.train.sft.model import load_tokenizer
from lemur.train.sft.templates import CHATML, get_chat_template


def reference_mask(tokenizer, ids: list[int]) -> list[bool]:
    """Walk the ids: after <|im_start|>, tokens up to and including the first '\\n' are the role header;
    then content up to <|im_end|>; content and <|im_end|> are targets iff the role is assistant."""
    start, end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    mask, state, role = [], "outside", ""
    for token in ids:
        if token == start:
            mask.append(False)
            state, role = "header", ""
        elif state == "header":
            mask.append(False)
            role += tokenizer.decode([token])
            if "\n" in role:
                role, state = role.split("\n")[0], "content"
        elif state == "content":
            mask.append(role == "assistant")
            if token == end:
                state = "outside"
        else:
            mask.append(False)
    return mask


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    return load_tokenizer(str(tiny_model_dir), CHATML)


def test_chatml_markers_are_single_special_tokens(tokenizer) -> None:
    ids = tokenizer("<|im_start|>user\nhi<|im_end|>\n", add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in ids
    added = {token.content: token.special for token in tokenizer.added_tokens_decoder.values()}
    assert added["<|im_start|>"] and added["<|im_end|>"]


def test_mask_token_by_token_on_multi_turn_conversations(tokenizer, mbpp_chats) -> None:
    for messages in mbpp_chats[:20]:
        example = encode_conversation(tokenizer, CHATML, messages, max_length=100_000)
        ids = example.tokens.tolist()
        assert ids[0] == tokenizer.bos_token_id
        assert example.loss_mask.tolist() == reference_mask(tokenizer, ids)
        # The targets decode to exactly the assistant contents, each closed by <|im_end|>.
        trained = tokenizer.decode(example.tokens[example.loss_mask])
        assert trained == "".join(m["content"] + "<|im_end|>" for m in messages if m["role"] == "assistant")
        # System and user contents, headers and the newlines after <|im_end|> are never targets.
        untrained = tokenizer.decode(example.tokens[~example.loss_mask], skip_special_tokens=False)
        for message in messages:
            if message["role"] != "assistant":
                assert message["content"] in untrained


def test_training_ids_equal_the_chat_template_rendering(tokenizer, mbpp_chats) -> None:
    for messages in mbpp_chats[:10]:
        example = encode_conversation(tokenizer, CHATML, messages, max_length=100_000)
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        assert text == "<s>" + CHATML.render(messages)[0]
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == example.tokens.tolist()
        assert (
            list(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)) == example.tokens.tolist()
        )


def test_truncation_and_jsonl_loading(tokenizer, mbpp_chats, jsonl_writer, tmp_path: Path) -> None:
    path = jsonl_writer(tmp_path / "c.jsonl", mbpp_chats[:5])
    examples = load_examples(path, tokenizer, CHATML, max_length=200, limit=3)
    assert len(examples) == 3 and all(len(e) <= 200 for e in examples)
    full = load_examples(path, tokenizer, CHATML, max_length=100_000)
    assert np.array_equal(full[0].tokens[:200], examples[0].tokens)


def test_bad_inputs_are_one_line_errors(tokenizer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no messages"}\n', encoding="utf-8")
    with pytest.raises(LemurError, match=r"bad.jsonl:1: not a conversation"):
        load_examples(bad, tokenizer, CHATML, 100)
    with pytest.raises(LemurError, match="does not exist"):
        load_examples(tmp_path / "missing.jsonl", tokenizer, CHATML, 100)
    with pytest.raises(ConfigError, match="unknown chat template 'chatm'"):
        get_chat_template("chatm")


def test_packed_shards_from_lemur_data_become_examples(tmp_path: Path) -> None:
    from lemur.data.packing import PackStep
    from lemur.data.shards import ShardWriter
    from lemur.data.tokenize import TokenizedDocument
    from lemur.train.sft.examples import shard_examples

    rng = np.random.default_rng(0)
    documents = [
        TokenizedDocument(str(i), rng.integers(4, 500, n).astype(np.int32), (rng.random(n) < 0.5).astype(np.uint8))
        for i, n in enumerate([5, 17, 9, 30, 3])
    ]
    writer = ShardWriter(tmp_path / "shards" / "shard-0", seq_len=32, vocab_size=512)
    for batch in PackStep(seq_len=32, window=100).run(iter(documents)):
        writer.write(batch)
    writer.close()
    got = {tuple(e.tokens.tolist()): e.loss_mask.tolist() for e in shard_examples(tmp_path / "shards", 1000)}
    assert got == {tuple(d.tokens.tolist()): d.loss_mask.astype(bool).tolist() for d in documents}


def write_shards(path: Path, documents) -> Path:
    """Pack tokenized documents with lemur-data and write one shard under ``path``."""
    from lemur.data.packing import PackStep
    from lemur.data.shards import ShardWriter

    writer = ShardWriter(path / "shard-0", seq_len=1024, vocab_size=2048)
    for batch in PackStep(seq_len=1024, window=100).run(iter(documents)):
        writer.write(batch)
    writer.close()
    return path


def test_shards_train_only_when_tokenized_with_the_template_tokens(
    tokenizer, tiny_model_dir: Path, mbpp_chats, tmp_path: Path
) -> None:
    from lemur.data.tokenize import TextTokenizer, TokenizedDocument

    chats = mbpp_chats[:6]
    ours = [encode_conversation(tokenizer, CHATML, m, 1024) for m in chats]
    documents = [
        TokenizedDocument(str(i), e.tokens.astype(np.int32), e.loss_mask.astype(np.uint8)) for i, e in enumerate(ours)
    ]
    loaded = load_examples(write_shards(tmp_path / "ours", documents), tokenizer, CHATML, 1024)
    assert sorted(e.tokens.tolist() for e in loaded) == sorted(e.tokens.tolist() for e in ours)
    # lemur-data's own ChatML encoder spells the markers as text: refused with a clear message.
    text_encoder = TextTokenizer(str(tiny_model_dir / "tokenizer.json"))
    spelled = [TokenizedDocument(str(i), *text_encoder.encode_messages(m)) for i, m in enumerate(chats)]
    with pytest.raises(LemurError, match=r"no <\|im_start\|> token .* not tokenized with the 'chatml' special tokens"):
        load_examples(write_shards(tmp_path / "spelled", spelled), tokenizer, CHATML, 1024)
