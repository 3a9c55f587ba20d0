"""recipes/accelerate/deepspeed.yaml with the Lemur-Chat recipe is a config DeepSpeed itself accepts.

The yaml goes through Accelerate's own launcher code (the environment ``accelerate launch`` gives
each process), then Accelerate's ``DeepSpeedPlugin``, the trainer's fill-in, Accelerate's fill-in
of the remaining ``auto`` values, and DeepSpeed's ``DeepSpeedConfig`` for the recipe's 8-GPU
layout. The CPU run of the same yaml is in test_distributed.py.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import yaml

from lemur.core.errors import LemurError
from lemur.train.sft.launch import _fill_deepspeed_config

RECIPES = Path(__file__).resolve().parents[4] / "recipes"


def fake_plugin(**config) -> types.SimpleNamespace:
    """An object with a ``deepspeed_config`` dict, as Accelerate's DeepSpeedPlugin has."""
    return types.SimpleNamespace(deepspeed_config=dict(config))


def test_auto_values_come_from_the_recipe() -> None:
    plugin = fake_plugin(gradient_clipping="auto", train_micro_batch_size_per_gpu="auto")
    _fill_deepspeed_config(plugin, micro_batch_size=2, max_grad_norm=0.5)
    assert plugin.deepspeed_config == {"gradient_clipping": 0.5, "train_micro_batch_size_per_gpu": 2}
    plugin = fake_plugin()
    _fill_deepspeed_config(plugin, micro_batch_size=1, max_grad_norm=None)
    assert plugin.deepspeed_config == {"gradient_clipping": 0.0, "train_micro_batch_size_per_gpu": 1}


def test_a_config_that_disagrees_with_the_recipe_is_refused() -> None:
    with pytest.raises(LemurError, match="gradient_clipping is 1.0 but the recipe's max_grad_norm is 0.5"):
        _fill_deepspeed_config(fake_plugin(gradient_clipping=1.0), micro_batch_size=1, max_grad_norm=0.5)
    with pytest.raises(LemurError, match="train_micro_batch_size_per_gpu is 4 but the recipe's micro_batch_size is 1"):
        _fill_deepspeed_config(fake_plugin(train_micro_batch_size_per_gpu=4), micro_batch_size=1, max_grad_norm=1.0)


def test_the_recipe_yaml_is_a_zero3_config_deepspeed_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("deepspeed", reason="DeepSpeed is not installed: pip install 'lemur-train[deepspeed]'")
    import deepspeed.runtime.config
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import DeepSpeedPlugin
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    recipe = yaml.safe_load((RECIPES / "lemur-chat-sft-train.yaml").read_text(encoding="utf-8"))
    args = launch_command_parser().parse_args(
        ["--config_file", str(RECIPES / "accelerate" / "deepspeed.yaml"), "train.py"]
    )
    args, defaults, _ = _validate_launch_command(args)
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)  # as launch_command does
    _, env = prepare_deepspeed_cmd_env(args)
    for name, value in env.items():
        if name.startswith("ACCELERATE_"):
            monkeypatch.setenv(name, value)
    processes = args.num_processes
    assert (processes, env["ACCELERATE_MIXED_PRECISION"]) == (8, "bf16")

    plugin = DeepSpeedPlugin()
    plugin.set_mixed_precision("bf16")
    _fill_deepspeed_config(plugin, recipe["micro_batch_size"], recipe["max_grad_norm"])
    accumulation = recipe["global_batch_size"] // (recipe["micro_batch_size"] * processes)
    hidden = 8192  # Lemur-70B (Llama-2-70B)
    # The values Accelerate's prepare() puts in place of the remaining "auto" entries.
    plugin.deepspeed_config_process(
        must_match=False,
        gradient_accumulation_steps=accumulation,
        train_batch_size=recipe["micro_batch_size"] * accumulation * processes,
        **{
            "zero_optimization.reduce_bucket_size": hidden * hidden,
            "zero_optimization.stage3_prefetch_bucket_size": int(0.9 * hidden * hidden),
            "zero_optimization.stage3_param_persistence_threshold": 10 * hidden,
        },
    )
    assert "auto" not in str(plugin.deepspeed_config)

    # DeepSpeedConfig takes the world size from its process group; stand in for 8 GPUs.
    world = types.SimpleNamespace(get_rank=lambda: 0, get_world_size=lambda *_: processes)
    monkeypatch.setattr(deepspeed.runtime.config, "dist", world)
    parsed = deepspeed.runtime.config.DeepSpeedConfig(plugin.deepspeed_config)
    assert parsed.zero_optimization_stage == 3
    assert parsed.bfloat16_config.enabled and not parsed.float16_config.enabled
    assert parsed.gradient_clipping == recipe["max_grad_norm"]
    assert (parsed.train_batch_size, parsed.train_micro_batch_size_per_gpu) == (recipe["global_batch_size"], 1)
    assert parsed.gradient_accumulation_steps == 16
    assert parsed.zero_config.gather_16bit_weights_on_model_save  # zero3_save_16bit_model: the export gathers
    assert parsed.zero_config.offload_param.device == parsed.zero_config.offload_optimizer.device == "none"
