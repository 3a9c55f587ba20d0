"""Checkpoints: ``<run_dir>/checkpoints/step-NNNNNNNN/`` holding Accelerate's state and the trainer's.

Accelerate saves the model, optimizer, the registered LR scheduler and every process's RNG
states (and shards them under FSDP / DeepSpeed); ``trainer_state.json`` adds the step, which is
also the data position (see :mod:`lemur.train.sft.schedule`). A checkpoint is written into a
``.partial`` directory and renamed when complete, so a directory without that suffix is whole.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

STATE_FILE = "trainer_state.json"


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    """Where the checkpoint after optimizer step ``step`` lives."""
    return run_dir / "checkpoints" / f"step-{step:08d}"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint under ``run_dir``, or None."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.glob("step-*") if not p.name.endswith(".partial") and (p / STATE_FILE).is_file())
    return found[-1] if found else None


def save_checkpoint(accelerator: Any, run_dir: Path, step: int, state: dict[str, Any], keep: int) -> Path:
    """Save everything needed to resume after ``step``; keep the ``keep`` newest checkpoints.

    Every process must call this (Accelerate gathers sharded state and per-process RNG).
    """
    final = checkpoint_dir(run_dir, step)
    staging = final.with_name(final.name + ".partial")
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (staging / STATE_FILE).write_text(json.dumps({**state, "step": step}, indent=1), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        for old in sorted((run_dir / "checkpoints").glob("step-*"))[:-keep]:
            if not old.name.endswith(".partial"):
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Any, path: Path) -> dict[str, Any]:
    """Restore Accelerate's state from ``path`` and return the trainer state (with ``step``)."""
    accelerator.load_state(str(path))
    return json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
