"""The SFT loop on real conversations: loss goes down, stop-and-resume is exact, the export serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lemur.train.sft.config import SFTConfig
from lemur.train.sft.trainer import fit


def make_config(tiny_model_dir: Path, data: Path, run_dir: Path, **overrides) -> SFTConfig:
    """A tiny CPU run: 8 conversations per step in micro-batches of 4."""
    base = {
        "run_dir": str(run_dir),
        "model": str(tiny_model_dir),
        "data": {"path": str(data), "max_length": 192},
        "global_batch_size": 8,
        "micro_batch_size": 4,
        "learning_rate": 3e-3,
        "warmup_ratio": 0.1,
        "gradient_checkpointing": False,
        "save_every": 100,
    }
    return SFTConfig.model_validate({**base, **overrides})


@pytest.fixture(scope="module")
def trained(tiny_model_dir: Path, gsm8k_chats, jsonl_writer, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sft-run")
    data = jsonl_writer(root / "gsm8k.jsonl", gsm8k_chats[:48])
    config = make_config(tiny_model_dir, data, root / "run", epochs=2)  # 96 examples / 8 = 12 steps
    return config, fit(config, progress=False)


def test_loss_decreases_on_real_conversations(trained) -> None:
    config, result = trained
    # 48 conversations, 47 with a target within 192 tokens: 2 epochs of 8 per step = 11 steps.
    assert result.step == result.total_steps == 11
    assert len(result.losses) == 11
    first, last = sum(result.losses[:3]) / 3, sum(result.losses[-3:]) / 3
    assert last < first - 0.5, result.losses
    rows = [json.loads(line) for line in (Path(config.run_dir) / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 12))
    assert [r["loss"] for r in rows] == result.losses
    summary = json.loads((Path(config.run_dir) / "summary.json").read_text())
    assert summary["step"] == 11 and summary["last_loss"] == result.losses[-1] and summary["processes"] == 1
    lrs = [r["lr"] for r in rows]
    assert max(lrs) == pytest.approx(3e-3) and lrs[-1] < lrs[1] < lrs[0] * 10


def test_stop_and_resume_gives_the_same_loss_sequence(tiny_model_dir: Path, gsm8k_chats, jsonl_writer, tmp_path):
    data = jsonl_writer(tmp_path / "c.jsonl", gsm8k_chats[48:72])
    options = {"max_steps": 4, "gradient_checkpointing": True, "export": False}
    straight = fit(make_config(tiny_model_dir, data, tmp_path / "straight", **options), progress=False)
    first = fit(make_config(tiny_model_dir, data, tmp_path / "resumed", stop_at_step=2, **options), progress=False)
    assert first.step == 2 and (tmp_path / "resumed" / "checkpoints" / "step-00000002").is_dir()
    second = fit(make_config(tiny_model_dir, data, tmp_path / "resumed", **options), progress=False)
    assert second.resumed_from == 2 and second.step == 4
    assert first.losses + second.losses == pytest.approx(straight.losses, rel=1e-6, abs=1e-7)
    lines = (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]


def test_export_loads_in_the_hf_backend_with_the_training_format(trained, gsm8k_chats) -> None:
    pytest.importorskip("lemur.eval", reason="needs lemur-eval installed: pip install 'lemur-train[eval]'")
    from transformers import AutoTokenizer

    from lemur.eval.models.base import GenerationRequest, Message
    from lemur.eval.models.hf import HFBackend
    from lemur.eval.models.templates import render_chatml
    from lemur.train.sft.examples import encode_conversation
    from lemur.train.sft.templates import CHATML

    config, result = trained
    assert result.export_dir == Path(config.run_dir) / "hf"
    tokenizer = AutoTokenizer.from_pretrained(result.export_dir)
    conversation = gsm8k_chats[0]
    # The embedded template renders the exact ids training saw.
    expected = encode_conversation(tokenizer, CHATML, conversation, 100_000).tokens.tolist()
    assert list(tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=False)) == expected
    backend = HFBackend(str(result.export_dir), template="model", device="cpu", max_length=512)
    request = GenerationRequest(
        messages=tuple(Message(m["role"], m["content"]) for m in conversation[:1]), max_tokens=8
    )
    prompt = backend.prompt_text(request)
    assert prompt == "<s>" + render_chatml(request.messages)
    (generation,) = backend.generate([request])
    assert isinstance(generation.text, str)
    # The backend's own chatml template gives the same prompt apart from the BOS, which it adds itself.
    chatml = HFBackend(str(result.export_dir), template="chatml", device="cpu", max_length=512)
    assert chatml.prompt_text(request) == prompt.removeprefix("<s>")


def test_starts_from_a_jax_pretraining_export(tiny_model_dir: Path, gsm8k_chats, jsonl_writer, tmp_path) -> None:
    """A checkpoint written by the JAX backend's converter (Flax params -> Hugging Face) fine-tunes as is."""
    pytest.importorskip("jax", reason="the JAX backend needs: pip install 'lemur-train[jax]'")
    import torch
    from transformers import AutoModelForCausalLM

    from lemur.train.jax import convert

    config, params = convert.load_hf_checkpoint(tiny_model_dir, dtype="float32")
    jax_export = convert.save_hf_checkpoint(tmp_path / "jax-hf", config, params, "float32", tiny_model_dir)
    data = jsonl_writer(tmp_path / "c.jsonl", gsm8k_chats[:8])
    options = {"max_steps": 1, "export": True}
    result = fit(make_config(jax_export, data, tmp_path / "run", **options), progress=False)
    assert result.step == 1 and result.export_dir is not None
    tokens = torch.tensor([[1, 50, 60, 70]])
    original = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    converted = AutoModelForCausalLM.from_pretrained(jax_export).eval()
    with torch.no_grad():
        assert torch.allclose(original(tokens).logits, converted(tokens).logits, atol=1e-5)
