"""The final Transformers export: model, tokenizer with the chat template embedded, generation stops."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lemur.train.sft.templates import ChatTemplate


def export_model(accelerator: Any, model: Any, tokenizer: Any, template: ChatTemplate, out: Path) -> Path:
    """Write ``out`` (via ``out.partial``) loadable by ``AutoModelForCausalLM`` / the ``hf`` eval backend.

    The tokenizer carries ``template``'s Jinja chat template, and the generation config stops at
    EOS and at the template's end-of-turn token. Every process must call this (sharded models
    are gathered); only the main process writes.
    """
    state_dict = _full_state_dict(accelerator, model)
    if accelerator.is_main_process:
        staging = out.with_name(out.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        unwrapped = accelerator.unwrap_model(model)
        unwrapped.config.use_cache = True
        stop_ids = [
            i for i in (tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(template.stop_token)) if i is not None
        ]
        unwrapped.generation_config.eos_token_id = stop_ids
        unwrapped.save_pretrained(staging, state_dict=state_dict, safe_serialization=True)
        tokenizer.chat_template = template.jinja
        tokenizer.save_pretrained(staging)
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    accelerator.wait_for_everyone()
    return out


def _full_state_dict(accelerator: Any, model: Any) -> dict[str, Any]:
    """The whole model's state dict on the main process (gathered from shards under FSDP / ZeRO-3)."""
    from accelerate.utils import DistributedType

    if (
        accelerator.distributed_type == DistributedType.FSDP
        and not accelerator.is_fsdp2
        and accelerator.device.type == "cpu"
    ):
        from torch.distributed.fsdp import FullStateDictConfig, StateDictType
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        # Accelerate gathers with offload_to_cpu=True, which crashes torch 2.13's FSDP1 (SIGSEGV while
        # cloning the gathered tensors) when the parameters already live on the CPU.
        gather = FullStateDictConfig(offload_to_cpu=False, rank0_only=True)
        with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, gather):
            return model.state_dict()
    return accelerator.get_state_dict(model)
