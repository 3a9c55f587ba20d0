"""Tokenization: Llama-2 ids with BOS/EOS per document, conversations masked to assistant turns."""

from __future__ import annotations

import numpy as np
import pytest

from lemur.core.errors import LemurError
from lemur.data.records import Document
from lemur.data.tokenize import TextTokenizer, TokenizeStep


def test_step_adds_bos_and_eos_per_document(llama_tokenizer_path, stdlib_sources) -> None:
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(llama_tokenizer_path))
    reference.encode_special_tokens = True
    documents = [Document(p.name, p.read_text(encoding="utf-8"), {"source": "python"}) for p in stdlib_sources[:12]]
    step = TokenizeStep(llama_tokenizer_path, batch_size=5)
    out = list(step.run(documents))
    assert [d.id for d in out] == [d.id for d in documents]
    for document, tokenized in zip(documents, out, strict=True):
        expected = [1, *reference.encode(document.text, add_special_tokens=False).ids, 2]
        assert tokenized.tokens.tolist() == expected
        assert tokenized.loss_mask is None and tokenized.source == "python"
    assert step.stats["documents"] == 12
    assert step.stats["tokens"] == sum(len(d.tokens) for d in out)


def test_literal_bos_in_code_stays_text(llama_tokenizer_path) -> None:
    tokens = TextTokenizer(llama_tokenizer_path).encode_batch(['print("<s> and </s>")'])[0].tolist()
    assert tokens[0] == 1 and tokens[-1] == 2
    assert 1 not in tokens[1:-1] and 2 not in tokens[1:-1]


def test_conversation_loss_only_on_assistant_replies(llama_tokenizer_path) -> None:
    encoder = TextTokenizer(llama_tokenizer_path)
    messages = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]
    tokens, mask = encoder.encode_messages(messages)

    def piece(text: str) -> list[int]:
        return encoder.encode_batch([text])[0][1:-1].tolist()

    prompt = piece("<|im_start|>user\n") + piece("What is 2+2?<|im_end|>\n") + piece("<|im_start|>assistant\n")
    reply = piece("4<|im_end|>\n")
    assert tokens.tolist() == [1, *prompt, *reply, 2]
    assert mask.tolist() == [0] * (1 + len(prompt)) + [1] * (len(reply) + 1)
    text = encoder.tokenizer.decode(tokens[mask == 1].tolist())
    assert text.replace(" ", "").strip() == "4<|im_end|>"


def test_unknown_special_token_is_a_clear_error(llama_tokenizer_path) -> None:
    with pytest.raises(LemurError, match="no token '<eos>'"):
        TextTokenizer(llama_tokenizer_path, eos_token="<eos>")


def test_unknown_tokenizer_name_is_a_clear_error() -> None:
    pytest.importorskip("tokenizers")
    with pytest.raises(LemurError, match="no-such-tokenizer"):
        TextTokenizer("no-such-tokenizer")


def test_conversation_with_chatml_special_tokens_trains_content_and_im_end_only(llama_tokenizer_path) -> None:
    """With the markers added as special tokens (as `lemur train sft` does), they are single ids, there is
    no EOS, and exactly each assistant content + <|im_end|> is trained on."""
    from tokenizers import AddedToken, Tokenizer

    vocabulary = Tokenizer.from_file(str(llama_tokenizer_path))
    vocabulary.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in ("<|im_start|>", "<|im_end|>")]
    )
    encoder = TextTokenizer(vocabulary)
    assert encoder.chatml_special and not TextTokenizer(llama_tokenizer_path).chatml_special
    start, end = vocabulary.token_to_id("<|im_start|>"), vocabulary.token_to_id("<|im_end|>")
    messages = [
        {"role": "system", "content": "Answer in Python."},
        {"role": "user", "content": "Print 4."},
        {"role": "assistant", "content": "print(4)"},
        {"role": "user", "content": "And a tag?"},
        {"role": "assistant", "content": 'print("tag")'},
    ]
    tokens, mask = encoder.encode_messages(messages)
    assert tokens[0] == 1 and tokens[-1] != 2 and (tokens == start).sum() == (tokens == end).sum() == 5
    ends = np.flatnonzero(tokens == end)
    assert mask[ends].tolist() == [0, 0, 1, 0, 1]
    runs = np.split(np.flatnonzero(mask), np.flatnonzero(np.diff(np.flatnonzero(mask)) > 1) + 1)
    replies = [vocabulary.decode(tokens[run].tolist(), skip_special_tokens=False) for run in runs]
    assert [r.strip() for r in replies] == ["print(4)<|im_end|>", 'print("tag")<|im_end|>']
    assert mask[: ends[1] + 1].sum() == 0  # system and user turns, and every header, carry no loss
