"""``lemur train sft``: the shipped recipes, a tiny run through the CLI, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lemur.core.config import load_config
from lemur.train.sft.config import SFTConfig

RECIPES = Path(__file__).resolve().parents[4] / "recipes"


def test_lemur_chat_recipe_holds_the_paper_values() -> None:
    config = load_config(RECIPES / "lemur-chat-sft-train.yaml", SFTConfig)
    assert (config.epochs, config.learning_rate, config.global_batch_size) == (2, 2e-5, 128)
    assert (config.data.template, config.data.packing) == ("chatml", "padding-free")


@pytest.mark.parametrize("name", ["fsdp", "deepspeed"])
def test_accelerate_launch_configs_parse(name: str) -> None:
    config = yaml.safe_load((RECIPES / "accelerate" / f"{name}.yaml").read_text(encoding="utf-8"))
    assert config["distributed_type"] == name.upper() and config["mixed_precision"] == "bf16"


def test_tiny_recipe_runs_through_the_cli(run_lemur, tiny_model_dir: Path, gsm8k_chats, jsonl_writer, tmp_path):
    data = jsonl_writer(tmp_path / "c.jsonl", gsm8k_chats[:16])
    args = ["train", "sft", "--config", str(RECIPES / "lemur-chat-sft-tiny.yaml"), "--model", str(tiny_model_dir)]
    args += ["--data", str(data), "--run-dir", str(tmp_path / "run"), "--stop-at-step", "1", "--no-progress"]
    result = run_lemur(*args, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("sft: step 1/2 in ")
    assert (tmp_path / "run" / "checkpoints" / "step-00000001" / "trainer_state.json").is_file()


def test_bad_config_is_one_line_and_exit_2(run_lemur, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("run_dir: x\nmodel: y\ndata: {path: z}\nlearning_rate: -1\n", encoding="utf-8")
    result = run_lemur("train", "sft", "--config", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "learning_rate" in lines[0]
    missing = run_lemur("train", "sft", "--config", str(RECIPES / "lemur-chat-sft-tiny.yaml"), "--data", "nope.jsonl")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("error: tokenizer 'runs/tiny-llama': cannot load it")
