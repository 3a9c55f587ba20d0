"""Pre-training end to end on real packed shards: CLI, loss, resume, accumulation, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lemur.core.errors import ConfigError
from lemur.train.jax.train import TrainConfig, fit


def config(run_dir: Path, data: Path, **changes) -> TrainConfig:
    base = {
        "run_dir": str(run_dir),
        "data": {"path": str(data)},
        "model": {"overrides": {"dtype": "float32", "remat_policy": "none"}},
        "optimizer": {"peak_lr": 3e-3, "end_lr": 3e-4, "warmup_steps": 2, "total_steps": 12},
        "batch_size": 4,
        "steps": 6,
        "checkpoint": {"every_steps": 3},
        "tensorboard": False,
        "export_hf": False,
    }
    return TrainConfig.model_validate({**base, **changes})


def test_cli_pretrain_loss_decreases_on_real_packed_data(trained_run) -> None:
    result, run_dir = trained_run
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("pretrain: step 40 in ")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == list(range(1, 41))
    losses = np.array([row["loss"] for row in rows])
    assert losses[0] == pytest.approx(np.log(512), abs=0.3)  # random init: about uniform over the vocab
    assert losses[-5:].mean() < losses[:5].mean() - 2.0, losses
    for key in ("lr", "grad_norm", "tokens_per_second", "tokens_per_second_per_device", "tflops_per_device"):
        assert all(np.isfinite(row[key]) for row in rows), key
    assert all(row["mfu"] is None for row in rows)  # CPU: no peak, so no MFU
    assert rows[0]["lr"] == 0.0 and rows[5]["lr"] == pytest.approx(3e-3, rel=1e-5)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["step"] == 40 and summary["mfu_note"] == "no peak for cpu"
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))


def test_exported_checkpoint_runs_in_transformers(trained_run, packed_shards) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from lemur.data.shards import PackedDataset
    from lemur.train.jax import convert
    from lemur.train.jax.model import LlamaForCausalLM

    _, run_dir = trained_run
    config_, params = convert.load_hf_checkpoint(run_dir / "hf", dtype="float32")
    row = PackedDataset(packed_shards)[0]
    length = int(np.argmax(row["segment_ids"] != row["segment_ids"][0]) or len(row["tokens"]))
    tokens = row["tokens"][None, :length]
    ours = np.asarray(LlamaForCausalLM(config_).apply({"params": params}, tokens, np.arange(length)[None], tokens * 0))
    model = transformers.LlamaForCausalLM.from_pretrained(run_dir / "hf", torch_dtype=torch.float32).eval()
    with torch.no_grad():
        theirs = model(torch.tensor(tokens, dtype=torch.long)).logits.numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-4)
    # The trained model predicts real Python far better than chance (cross-entropy << ln 512).
    log_probs = theirs[0, :-1] - np.log(np.exp(theirs[0, :-1]).sum(-1, keepdims=True))
    assert -log_probs[np.arange(length - 1), tokens[0, 1:]].mean() < np.log(512) - 2.0


def test_stop_and_resume_gives_the_identical_loss_sequence(packed_shards, tmp_path) -> None:
    straight = fit(config(tmp_path / "straight", packed_shards), progress=False)
    first = fit(config(tmp_path / "stopped", packed_shards, steps=3), progress=False)
    second = fit(config(tmp_path / "stopped", packed_shards), progress=False)
    assert (first.resumed_from, second.resumed_from, second.step) == (None, 3, 6)
    assert len(straight.losses) == 6 and first.losses + second.losses == straight.losses
    logged = [json.loads(line)["loss"] for line in (tmp_path / "stopped" / "metrics.jsonl").read_text().splitlines()]
    assert logged == straight.losses
    with pytest.raises(ConfigError, match="field 'batch_size' was 4 but is now 8; resuming needs the same settings"):
        fit(config(tmp_path / "stopped", packed_shards, steps=8, batch_size=8), progress=False)


def test_gradient_accumulation_matches_one_big_batch(packed_shards, tmp_path) -> None:
    whole = fit(config(tmp_path / "whole", packed_shards, steps=3), progress=False)
    accumulated = fit(config(tmp_path / "accum", packed_shards, steps=3, grad_accum_steps=4), progress=False)
    np.testing.assert_allclose(accumulated.losses, whole.losses, rtol=2e-5)


def test_bad_batch_size_is_one_line_and_exit_2(packed_shards, tmp_path, lemur_cli, debug_recipe) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(debug_recipe.read_text().replace("grad_accum_steps: 2", "grad_accum_steps: 3"))
    result = lemur_cli("train", "pretrain", "--config", str(recipe), "--data", str(packed_shards), "--run-dir",
                   str(tmp_path / "run"), timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: train: batch_size 8 must be a multiple of data*fsdp devices x grad_accum_steps = 3"
    ]
    assert not (tmp_path / "run").exists()


def test_continue_from_a_hugging_face_checkpoint(trained_run, packed_shards, tmp_path) -> None:
    """`model.init_from_hf` starts from the checkpoint's weights (the paper continues Llama-2), not from scratch."""
    import shutil

    _, run_dir = trained_run
    source = tmp_path / "llama"
    shutil.copytree(run_dir / "hf", source)
    (source / "tokenizer_config.json").write_text('{"model_max_length": 512}')
    scratch = fit(config(tmp_path / "scratch", packed_shards, steps=1), progress=False)
    continued = fit(
        config(tmp_path / "continued", packed_shards, steps=1, model={"init_from_hf": str(source)}, export_hf=True),
        progress=False,
    )
    assert scratch.losses[0] == pytest.approx(np.log(512), abs=0.3)
    assert continued.losses[0] < np.log(512) - 2.0
    # The export carries the source's tokenizer files, so the hf backend can load it as is.
    assert (tmp_path / "continued" / "hf" / "tokenizer_config.json").read_text() == '{"model_max_length": 512}'
