"""Two processes (``accelerate launch``, DDP over gloo on CPU) train exactly like one with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("sft_worker.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(config: dict, out: Path, processes: int) -> dict:
    """Run :mod:`sft_worker` under ``accelerate launch --multi_gpu`` (torchrun; gloo on CPU) and return its output."""
    config_path = out.with_suffix(".config.json")
    config_path.write_text(json.dumps(config), encoding="utf-8")
    command = [
        sys.executable, "-m", "accelerate.commands.launch", *(["--multi_gpu"] if processes > 1 else []),
        "--num_processes", str(processes),
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()),
        str(WORKER), str(config_path), str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_two_processes_equal_one_process(tiny_model_dir: Path, gsm8k_chats, jsonl_writer, tmp_path: Path) -> None:
    data = jsonl_writer(tmp_path / "c.jsonl", gsm8k_chats[100:124])
    config = {
        "model": str(tiny_model_dir),
        "data": {"path": str(data), "max_length": 160},
        "global_batch_size": 8,
        "micro_batch_size": 2,
        "max_steps": 3,
        "learning_rate": 3e-3,
        "warmup_ratio": 0.0,
        "gradient_checkpointing": False,
        "export": False,
        "save_every": 100,
    }
    one = launch({**config, "run_dir": str(tmp_path / "one")}, tmp_path / "one.json", processes=1)
    two = launch({**config, "run_dir": str(tmp_path / "two")}, tmp_path / "two.json", processes=2)
    assert (one["processes"], two["processes"]) == (1, 2)
    assert one["step"] == two["step"] == 3
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-5)
    assert one["losses"][-1] < one["losses"][0]  # the steps really updated the model
