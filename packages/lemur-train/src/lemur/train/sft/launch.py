"""The Accelerator of an SFT run: one process, DDP, FSDP or DeepSpeed, as ``accelerate launch`` asked.

``accelerate launch --config_file recipes/accelerate/<name>.yaml`` passes its choice to the
processes through ``ACCELERATE_USE_FSDP`` / ``ACCELERATE_USE_DEEPSPEED`` and the plugin's
``FSDP_*`` / ``ACCELERATE_DEEPSPEED_*`` variables. On GPUs :func:`make_accelerator` is a plain
``Accelerator(...)``. Without a GPU the processes (started by torchrun) join a gloo group, and
Accelerate (1.x) then trains plain DDP: it keeps ``MULTI_CPU`` and drops the FSDP plugin (its
FSDP switch only considers GPU-like device types) and ignores DeepSpeed on the CPU. Rather than
train something other than what the launch config says:

- FSDP on CPU processes is switched on here, with the plugin the launch config describes
  (FSDP1 or FSDP2, sharding, wrap policy, state-dict type), so ``prepare``, ``save_state``,
  ``load_state`` and ``get_state_dict`` run Accelerate's own FSDP code over gloo. Torch's FSDP1
  and FSDP2 both run on CPU tensors with gloo; this is what the CPU tests use. FSDP1 also needs
  ``fsdp_cpu_ram_efficient_loading: false`` and ``fsdp_sync_module_states: false`` on CPU:
  Accelerate's plugin raises "There are currently no available devices found" for
  ``sync_module_states`` without a GPU.
- DeepSpeed on CPU processes is switched on the same way; DeepSpeed's CPU accelerator then
  runs ZeRO over the gloo group (oneCCL, when installed, is DeepSpeed's first choice).
"""

from __future__ import annotations

import os
from typing import Any

from lemur.core.errors import LemurError


def requested_backend() -> str:
    """What ``accelerate launch`` asked for: ``'fsdp'``, ``'deepspeed'`` or ``'default'`` (one process or DDP)."""
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true":
        return "deepspeed"
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true":
        return "fsdp"
    return "default"


def make_accelerator(
    mixed_precision: str, gradient_accumulation_steps: int, micro_batch_size: int, max_grad_norm: float | None
) -> Any:
    """An ``Accelerator`` for the launch this process belongs to, with FSDP and DeepSpeed honoured on CPU processes.

    Under DeepSpeed the config's ``train_micro_batch_size_per_gpu`` (Accelerate would read it from a
    prepared dataloader, which this trainer does not use) and an ``auto`` ``gradient_clipping`` come
    from the recipe.

    Args:
        mixed_precision: ``'no'`` or ``'bf16'`` (Accelerate's names).
        gradient_accumulation_steps: Micro-batches per optimizer step on each process.
        micro_batch_size: Examples per forward pass per process.
        max_grad_norm: The recipe's gradient clipping (None: none).

    Raises:
        LemurError: The DeepSpeed config clips gradients at another norm than the recipe.
        ImportError: The launch asks for DeepSpeed and it is not installed (Accelerate's message).
    """
    import torch
    from accelerate import Accelerator, PartialState
    from accelerate.utils import DeepSpeedPlugin, DistributedType

    backend = requested_backend()
    if torch.cuda.is_available():
        accelerator = Accelerator(
            mixed_precision=mixed_precision, gradient_accumulation_steps=gradient_accumulation_steps
        )
    else:
        # The plugins read the launcher's FSDP_* / ACCELERATE_DEEPSPEED_* variables.
        fsdp_plugin = _cpu_fsdp_plugin() if backend == "fsdp" else None
        deepspeed_plugin = DeepSpeedPlugin() if backend == "deepspeed" else None
        # Without a GPU, torchrun's processes join a gloo group only when Accelerate is told the run is a CPU run.
        state = PartialState(cpu=True)
        accelerator = Accelerator(
            cpu=True,
            mixed_precision=mixed_precision,
            gradient_accumulation_steps=gradient_accumulation_steps,
            fsdp_plugin=fsdp_plugin,
            deepspeed_plugin=deepspeed_plugin,
        )
        if state.distributed_type == DistributedType.MULTI_CPU and fsdp_plugin is not None:
            _switch_to_fsdp(accelerator, fsdp_plugin, mixed_precision)
        if state.distributed_type == DistributedType.MULTI_CPU and deepspeed_plugin is not None:
            _switch_to_deepspeed(accelerator, deepspeed_plugin, mixed_precision)
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        _fill_deepspeed_config(accelerator.state.deepspeed_plugin, micro_batch_size, max_grad_norm)
    return accelerator


def _cpu_fsdp_plugin() -> Any:
    """Accelerate's FSDP plugin from the launcher's ``FSDP_*`` variables, for CPU processes.

    Raises:
        LemurError: The config asks FSDP1 to sync module states, which Accelerate only does on a GPU.
    """
    from accelerate.utils import FullyShardedDataParallelPlugin

    try:
        return FullyShardedDataParallelPlugin()
    except RuntimeError as error:
        if "no available devices" not in str(error):
            raise
        raise LemurError(
            "accelerate launch: FSDP1 on CPU processes needs fsdp_cpu_ram_efficient_loading: false and "
            "fsdp_sync_module_states: false (Accelerate syncs module states only on a GPU), or fsdp_version: 2"
        ) from None


def _switch_to_fsdp(accelerator: Any, fsdp_plugin: Any, mixed_precision: str) -> None:
    """Make a gloo (``MULTI_CPU``) Accelerator use FSDP, as Accelerate does for a GPU launch with the same plugin."""
    import torch
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    if mixed_precision != "no":
        fsdp_plugin.set_mixed_precision(mixed_precision)
    # Accelerate's states are shared dictionaries (Borg pattern): these are the assignments its own
    # AcceleratorState.__init__ makes for GPU device types.
    AcceleratorState._shared_state["fsdp_plugin"] = fsdp_plugin
    # FSDP1 insists that its device_id equals the compute device it infers for CPU tensors ("cpu",
    # not Accelerate's per-process "cpu:<local rank>"); every CPU tensor lives on "cpu" anyway.
    for shared in (AcceleratorState._shared_state, PartialState._shared_state):
        shared["device"] = torch.device("cpu")
        shared["distributed_type"] = DistributedType.FSDP
    if accelerator.distributed_type != DistributedType.FSDP or accelerator.state.fsdp_plugin is not fsdp_plugin:
        raise RuntimeError("this accelerate version keeps its state elsewhere: FSDP cannot be enabled on CPU")


def _switch_to_deepspeed(accelerator: Any, deepspeed_plugin: Any, mixed_precision: str) -> None:
    """Make a gloo (``MULTI_CPU``) Accelerator use DeepSpeed (its CPU accelerator talks over the same gloo group)."""
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    # What AcceleratorState.__init__ does for a DeepSpeed launch off the CPU.
    deepspeed_plugin.set_mixed_precision(mixed_precision)
    AcceleratorState._shared_state["deepspeed_plugins"] = deepspeed_plugin
    AcceleratorState._shared_state["_mixed_precision"] = "no"  # DeepSpeed's config owns the precision
    for shared in (AcceleratorState._shared_state, PartialState._shared_state):
        shared["distributed_type"] = DistributedType.DEEPSPEED
    deepspeed_plugin.select(_from_accelerator_state=True)
    if accelerator.distributed_type != DistributedType.DEEPSPEED or accelerator.state.deepspeed_plugin is None:
        raise RuntimeError("this accelerate version keeps its state elsewhere: DeepSpeed cannot be enabled on CPU")


def _fill_deepspeed_config(deepspeed_plugin: Any, micro_batch_size: int, max_grad_norm: float | None) -> None:
    """Set the DeepSpeed config's per-process micro-batch and its ``auto`` clipping from the recipe.

    Raises:
        LemurError: ``gradient_clipping`` is set and differs from the recipe's ``max_grad_norm``.
    """
    config = deepspeed_plugin.deepspeed_config
    clip = 0.0 if max_grad_norm is None else float(max_grad_norm)  # DeepSpeed: 0 means no clipping
    configured = config.get("gradient_clipping", "auto")
    if configured == "auto":
        config["gradient_clipping"] = clip
    elif float(configured) != clip:
        raise LemurError(
            f"DeepSpeed config: gradient_clipping is {configured} but the recipe's max_grad_norm is {max_grad_norm}; "
            "make them agree (or set gradient_clipping: auto)"
        )
    if config.get("train_micro_batch_size_per_gpu", "auto") not in ("auto", micro_batch_size):
        raise LemurError(
            f"DeepSpeed config: train_micro_batch_size_per_gpu is {config['train_micro_batch_size_per_gpu']} but the "
            f"recipe's micro_batch_size is {micro_batch_size}; make them agree (or set it to auto)"
        )
    config["train_micro_batch_size_per_gpu"] = micro_batch_size
