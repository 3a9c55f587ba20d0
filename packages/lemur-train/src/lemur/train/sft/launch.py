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
- DeepSpeed on CPU processes is refused with an error.
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


def make_accelerator(mixed_precision: str, gradient_accumulation_steps: int) -> Any:
    """An ``Accelerator`` for the launch this process belongs to, with FSDP honoured on CPU processes too.

    Args:
        mixed_precision: ``'no'`` or ``'bf16'`` (Accelerate's names).
        gradient_accumulation_steps: Micro-batches per optimizer step on each process.

    Raises:
        LemurError: The launch asks for DeepSpeed but there is no GPU.
    """
    import torch
    from accelerate import Accelerator, PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    backend = requested_backend()
    cpu = not torch.cuda.is_available()
    if not cpu:
        return Accelerator(mixed_precision=mixed_precision, gradient_accumulation_steps=gradient_accumulation_steps)
    if backend == "deepspeed":
        raise LemurError(
            "accelerate launch: a DeepSpeed config needs GPUs (Accelerate ignores DeepSpeed on the CPU and would "
            "train plain DDP); on CPU use an FSDP config (recipes/accelerate/fsdp.yaml) or no config"
        )
    # Without a GPU, torchrun's processes join a gloo group only when Accelerate is told the run is a CPU run.
    state = PartialState(cpu=True)
    fsdp_plugin = FullyShardedDataParallelPlugin() if backend == "fsdp" else None  # reads the launcher's FSDP_*
    accelerator = Accelerator(
        cpu=True,
        mixed_precision=mixed_precision,
        gradient_accumulation_steps=gradient_accumulation_steps,
        fsdp_plugin=fsdp_plugin,
    )
    if fsdp_plugin is not None and state.distributed_type == DistributedType.MULTI_CPU:
        _switch_to_fsdp(accelerator, fsdp_plugin, mixed_precision)
    return accelerator


def _switch_to_fsdp(accelerator: Any, fsdp_plugin: Any, mixed_precision: str) -> None:
    """Make a gloo (``MULTI_CPU``) Accelerator use FSDP, as Accelerate does for a GPU launch with the same plugin."""
    import torch
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    if mixed_precision != "no":
        fsdp_plugin.set_mixed_precision(mixed_precision)
    # Accelerate's states are shared dictionaries (Borg pattern): this is the assignment its own
    # AcceleratorState.__init__ makes for GPU device types.
    AcceleratorState._shared_state["fsdp_plugin"] = fsdp_plugin
    # FSDP1 insists that its device_id equals the compute device it infers for CPU tensors ("cpu",
    # not Accelerate's per-process "cpu:<local rank>"); every CPU tensor lives on "cpu" anyway.
    for shared in (AcceleratorState._shared_state, PartialState._shared_state):
        shared["device"] = torch.device("cpu")
    AcceleratorState._shared_state["distributed_type"] = DistributedType.FSDP
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    if accelerator.distributed_type != DistributedType.FSDP or accelerator.state.fsdp_plugin is not fsdp_plugin:
        raise RuntimeError("this accelerate version keeps its state elsewhere: FSDP cannot be enabled on CPU")
