"""Two CPU processes under ``accelerate launch`` (gloo) train exactly like one with the same global batch.

DDP (``--multi_gpu``), FSDP and DeepSpeed with the repository's own launch configs
(``recipes/accelerate/fsdp.yaml``: FSDP2, full shard of the Llama decoder layers, sharded
checkpoints; ``deepspeed.yaml``: ZeRO-3), overriding only what a CPU needs: 2 processes, no bf16.
FSDP1 runs too with Accelerate's two GPU-only loading options off. What these CPU runs cannot
show: NCCL, bf16 mixed precision, memory savings, speed and several nodes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("sft_worker.py")
ACCELERATE_CONFIGS = Path(__file__).resolve().parents[4] / "recipes" / "accelerate"
FSDP_CONFIG = ACCELERATE_CONFIGS / "fsdp.yaml"
DEEPSPEED_CONFIG = ACCELERATE_CONFIGS / "deepspeed.yaml"
# Loss of a step: the same sums in another order (sharded, 2 processes) on the CPU.
LOSS_TOLERANCE = {"rel": 1e-5}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(config: dict, out: Path, processes: int, launch_options: tuple[str, ...] = ()) -> dict:
    """Run :mod:`sft_worker` under ``accelerate launch`` (torchrun; gloo on CPU) and return its output.

    Without ``launch_options`` several processes run DDP (``--multi_gpu``); with them (e.g. a
    ``--config_file``) the launch does what they say.
    """
    config_path = out.with_suffix(".config.json")
    config_path.write_text(json.dumps(config), encoding="utf-8")
    mode = list(launch_options) or (["--multi_gpu"] if processes > 1 else [])
    command = [
        sys.executable, "-m", "accelerate.commands.launch", *mode,
        "--num_processes", str(processes),
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()),
        str(WORKER), str(config_path), str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def base_config(tiny_model_dir: Path, data: Path) -> dict:
    """Three steps of 8 conversations in micro-batches of 2, no checkpoint before the end."""
    return {
        "model": str(tiny_model_dir),
        "data": {"path": str(data), "max_length": 160},
        "global_batch_size": 8,
        "micro_batch_size": 2,
        "max_steps": 3,
        "learning_rate": 3e-3,
        "warmup_ratio": 0.0,
        "gradient_checkpointing": False,
        "save_every": 100,
    }


@pytest.fixture(scope="module")
def reference(tiny_model_dir: Path, gsm8k_chats, jsonl_writer, tmp_path_factory: pytest.TempPathFactory):
    """(config, one-process output, run directory): the run every multi-process layout must reproduce.

    It runs in the test process (no launcher): one process with the whole global batch.
    """
    from lemur.train.sft.config import SFTConfig
    from lemur.train.sft.trainer import fit

    root = tmp_path_factory.mktemp("distributed")
    config = base_config(tiny_model_dir, jsonl_writer(root / "c.jsonl", gsm8k_chats[100:124]))
    result = fit(SFTConfig.model_validate({**config, "run_dir": str(root / "one")}), progress=False)
    assert result.step == 3 and result.export_dir == root / "one" / "hf"
    assert result.losses[-1] < result.losses[0]  # the steps really updated the model
    return config, {"losses": result.losses}, root / "one"


def exported_weights(run_dir: Path) -> dict:
    """The exported model's tensors, loaded as Transformers loads them."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(run_dir / "hf").state_dict()


def assert_same_weights(got: dict, expected: dict) -> None:
    """Equal up to the last bits of three AdamW steps at LR 3e-3 (each moves a weight by up to 3e-3)."""
    assert sorted(got) == sorted(expected)
    for name, tensor in expected.items():
        assert got[name].dtype == tensor.dtype, name
        assert float((got[name] - tensor).abs().max()) < 3e-4, name


def assert_sharded_checkpoint(checkpoint: Path, processes: int) -> None:
    """Model and optimizer saved by torch.distributed.checkpoint, one shard file per process."""
    for folder in ("pytorch_model_fsdp_0", "optimizer_0"):
        assert sorted(p.name for p in (checkpoint / folder).glob("*.distcp")) == [
            f"__{rank}_0.distcp" for rank in range(processes)
        ]
    assert not (checkpoint / "model.safetensors").exists()


def assert_serves_like(export: Path, expected: Path, conversation: list[dict[str, str]]) -> None:
    """The ``hf`` eval backend loads ``export`` and scores an answer as it does with ``expected``."""
    pytest.importorskip("lemur.eval", reason="needs lemur-eval installed: pip install 'lemur-train[eval]'")
    from lemur.eval.models.base import LoglikelihoodRequest
    from lemur.eval.models.hf import HFBackend

    request = LoglikelihoodRequest(context=conversation[0]["content"], continuation=" " + conversation[1]["content"])
    scores = [
        HFBackend(str(path), template="model", device="cpu", max_length=512).loglikelihood([request])[0]
        for path in (export, expected)
    ]
    assert scores[0] == pytest.approx(scores[1], rel=1e-4)


@pytest.mark.slow
def test_two_processes_equal_one_process(reference, tmp_path: Path) -> None:
    config, one, _ = reference
    two = launch({**config, "run_dir": str(tmp_path / "two"), "export": False}, tmp_path / "two.json", processes=2)
    assert (two["processes"], two["distributed_type"], two["step"]) == (2, "MULTI_CPU", 3)
    assert two["losses"] == pytest.approx(one["losses"], **LOSS_TOLERANCE)


@pytest.mark.slow
def test_fsdp2_full_shard_equals_one_process_resumes_and_exports(reference, gsm8k_chats, tmp_path: Path) -> None:
    """The recipe's FSDP config: sharded training, stop, sharded checkpoint, resume, gathered export."""
    config, one, one_dir = reference
    run = {**config, "run_dir": str(tmp_path / "fsdp"), "gradient_checkpointing": True}
    fsdp = ("--config_file", str(FSDP_CONFIG))
    first = launch({**run, "stop_at_step": 2}, tmp_path / "first.json", processes=2, launch_options=fsdp)
    assert (first["processes"], first["distributed_type"], first["fsdp_version"]) == (2, "FSDP", 2)
    assert first["step"] == 2 and first["export_dir"] is None
    assert_sharded_checkpoint(tmp_path / "fsdp" / "checkpoints" / "step-00000002", processes=2)
    second = launch(run, tmp_path / "second.json", processes=2, launch_options=fsdp)
    assert (second["resumed_from"], second["step"]) == (2, 3)
    assert first["losses"] + second["losses"] == pytest.approx(one["losses"], **LOSS_TOLERANCE)
    summary = json.loads((tmp_path / "fsdp" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["processes"], summary["distributed_type"]) == (2, "FSDP")
    assert_same_weights(exported_weights(tmp_path / "fsdp"), exported_weights(one_dir))
    assert_serves_like(tmp_path / "fsdp" / "hf", one_dir / "hf", gsm8k_chats[0])


@pytest.mark.slow
def test_fsdp1_full_shard_equals_one_process_and_exports(reference, tmp_path: Path) -> None:
    """FSDP1 on CPU: Accelerate's sync_module_states (implied by cpu_ram_efficient_loading) needs a GPU."""
    config, one, one_dir = reference
    fsdp1 = (
        "--config_file", str(FSDP_CONFIG), "--fsdp_version", "1",
        "--fsdp_cpu_ram_efficient_loading", "false", "--fsdp_sync_module_states", "false",
    )  # fmt: skip
    run = {**config, "run_dir": str(tmp_path / "fsdp1"), "save_every": 2}
    out = launch(run, tmp_path / "fsdp1.json", processes=2, launch_options=fsdp1)
    assert (out["processes"], out["distributed_type"], out["fsdp_version"], out["step"]) == (2, "FSDP", 1, 3)
    assert out["losses"] == pytest.approx(one["losses"], **LOSS_TOLERANCE)
    assert_sharded_checkpoint(tmp_path / "fsdp1" / "checkpoints" / "step-00000002", processes=2)
    assert_same_weights(exported_weights(tmp_path / "fsdp1"), exported_weights(one_dir))


@pytest.mark.slow
def test_deepspeed_zero3_equals_one_process_resumes_and_exports(reference, tmp_path: Path) -> None:
    """The recipe's DeepSpeed config (ZeRO-3, zero.Init loading) on DeepSpeed's CPU accelerator over gloo."""
    pytest.importorskip("deepspeed", reason="DeepSpeed is not installed: pip install 'lemur-train[deepspeed]'")
    config, one, one_dir = reference
    run = {**config, "run_dir": str(tmp_path / "zero3")}
    zero3 = ("--config_file", str(DEEPSPEED_CONFIG))
    first = launch({**run, "stop_at_step": 2}, tmp_path / "first.json", processes=2, launch_options=zero3)
    assert (first["processes"], first["distributed_type"], first["step"]) == (2, "DEEPSPEED", 2)
    checkpoint = tmp_path / "zero3" / "checkpoints" / "step-00000002" / "pytorch_model"
    assert sorted(p.name for p in checkpoint.glob("*_optim_states.pt")) == [
        f"zero_pp_rank_{rank}_mp_rank_00_optim_states.pt" for rank in range(2)
    ]
    second = launch(run, tmp_path / "second.json", processes=2, launch_options=zero3)
    assert (second["resumed_from"], second["step"]) == (2, 3)
    assert first["losses"] + second["losses"] == pytest.approx(one["losses"], **LOSS_TOLERANCE)
    assert_same_weights(exported_weights(tmp_path / "zero3"), exported_weights(one_dir))
