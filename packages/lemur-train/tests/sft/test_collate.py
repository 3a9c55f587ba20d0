"""Padded and padding-free micro-batches: same targets, same loss, no attention across examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lemur.train.sft.collate import collate_padded, collate_padding_free, shifted_labels, trained_tokens
from lemur.train.sft.examples import encode_conversation
from lemur.train.sft.model import load_model, load_tokenizer
from lemur.train.sft.templates import CHATML
from lemur.train.sft.trainer import token_loss_sum


@pytest.fixture(scope="module", params=["sdpa_varlen", "sdpa"])
def setup(request, tiny_model_dir: Path, mbpp_chats, gsm8k_chats):
    import torch

    tokenizer = load_tokenizer(str(tiny_model_dir), CHATML)
    torch.manual_seed(0)
    model = load_model(str(tiny_model_dir), tokenizer, request.param, gradient_checkpointing=False).eval()
    chats = [mbpp_chats[0], gsm8k_chats[0], mbpp_chats[1], gsm8k_chats[1], gsm8k_chats[2]]
    examples = [encode_conversation(tokenizer, CHATML, m, 4096) for m in chats]
    return tokenizer, model, examples


def test_padding_free_rows_carry_example_boundaries(setup) -> None:
    _, _, examples = setup
    batch = collate_padding_free(examples)
    assert batch["cu_seq_lens_q"].tolist() == np.cumsum([0] + [len(e) for e in examples]).tolist()
    assert batch["max_length_q"] == max(len(e) for e in examples)


def test_padding_is_never_a_target(setup) -> None:
    tokenizer, _, examples = setup
    batch = collate_padded(examples, pad_id=tokenizer.pad_token_id)
    labels, attention = batch["labels"].numpy(), batch["attention_mask"].numpy()
    assert (labels[attention == 0] == -100).all()
    assert attention.sum() == sum(len(e) for e in examples)
    for row, example in enumerate(examples):
        assert labels[row, : len(example)].tolist() == shifted_labels(example).tolist()
    assert int((labels != -100).sum()) == trained_tokens(examples)


def test_padding_free_positions_restart_and_labels_stay_inside_examples(setup) -> None:
    _, _, examples = setup
    batch = collate_padding_free(examples)
    positions, labels = batch["position_ids"][0].numpy(), batch["labels"][0].numpy()
    starts = np.cumsum([0] + [len(e) for e in examples])
    for example, start in zip(examples, starts[:-1], strict=True):
        assert positions[start : start + len(example)].tolist() == list(range(len(example)))
        assert labels[start + len(example) - 1] == -100  # never predicts the next example's first token
    assert int((labels != -100).sum()) == trained_tokens(examples)


def test_padding_free_loss_equals_padded_loss_and_per_example_loss(setup) -> None:
    import torch

    tokenizer, model, examples = setup
    with torch.no_grad():
        padded = token_loss_sum(model, collate_padded(examples, pad_id=tokenizer.pad_token_id))
        packed = token_loss_sum(model, collate_padding_free(examples))
        alone = sum(token_loss_sum(model, collate_padding_free([e])) for e in examples)
    assert torch.allclose(packed, padded, rtol=1e-5), (packed, padded)
    assert torch.allclose(packed, alone, rtol=1e-5), (packed, alone)
    # Logits of the last example: the same alone and packed; different when positions run on
    # (the examples then attend to each other), so the equality above is not an accident.
    packed_batch = collate_padding_free(examples)
    leaky = {k: v for k, v in packed_batch.items() if not k.startswith(("cu_seq_lens", "max_length"))}
    leaky["position_ids"] = torch.arange(packed_batch["input_ids"].shape[1])[None]
    last = len(examples[-1])
    with torch.no_grad():
        packed_logits = model(**{k: v for k, v in packed_batch.items() if k != "labels"}).logits[0, -last:]
        leaky_logits = model(**{k: v for k, v in leaky.items() if k != "labels"}).logits[0, -last:]
        alone_logits = model(input_ids=torch.from_numpy(examples[-1].tokens)[None]).logits[0]
    assert torch.allclose(packed_logits, alone_logits, atol=1e-4)
    assert (leaky_logits - alone_logits).abs().max() > 1e-2


def test_padding_free_gradients_equal_padded_gradients(setup) -> None:
    tokenizer, model, examples = setup
    grads = []
    for batch in (collate_padded(examples, pad_id=tokenizer.pad_token_id), collate_padding_free(examples)):
        model.zero_grad()
        token_loss_sum(model, batch).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    model.zero_grad()
    for padded, packed in zip(*grads, strict=True):
        assert np.allclose(padded.numpy(), packed.numpy(), rtol=1e-4, atol=1e-6)
