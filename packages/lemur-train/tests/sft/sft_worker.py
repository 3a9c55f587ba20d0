"""Run one SFT fit from a JSON config file and write its losses (the target of ``accelerate launch`` in tests).

Usage: ``python sft_worker.py CONFIG.json OUT.json``; only the main process writes ``OUT.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from lemur.train.sft.config import SFTConfig
from lemur.train.sft.trainer import fit


def main() -> None:
    """Fit the config in ``argv[1]``; write ``{"losses", "step", "resumed_from", "processes", ...}`` to ``argv[2]``.

    The rest: ``distributed_type`` (Accelerate's: NO, MULTI_CPU, FSDP...), ``fsdp_version`` (None unless
    FSDP) and ``export_dir``.
    """
    from accelerate import PartialState
    from accelerate.state import AcceleratorState

    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false") == "true":
        import deepspeed.ops

        # DeepSpeed compiles its shared-memory all-reduce kernel (an inference fast path) on first use:
        # a minute of CPU on a fresh machine. Training collectives go over the gloo group either way.
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
    config = SFTConfig.model_validate_json(Path(sys.argv[1]).read_text(encoding="utf-8"))
    result = fit(config, progress=False)
    state = PartialState()
    if state.is_main_process:
        accelerator_state = AcceleratorState()
        fsdp_plugin = getattr(accelerator_state, "fsdp_plugin", None)
        out = {
            "losses": result.losses,
            "step": result.step,
            "resumed_from": result.resumed_from,
            "processes": state.num_processes,
            "distributed_type": str(accelerator_state.distributed_type).rsplit(".", 1)[-1],
            "fsdp_version": fsdp_plugin.fsdp_version if fsdp_plugin is not None else None,
            "export_dir": str(result.export_dir) if result.export_dir else None,
        }
        Path(sys.argv[2]).write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main()
