"""What ``accelerate launch`` asked for, read from the environment it gives the processes.

The launches themselves (DDP, FSDP1/2, DeepSpeed on two CPU processes) are in test_distributed.py.
"""

from __future__ import annotations

import pytest

from lemur.core.errors import LemurError
from lemur.train.sft.launch import make_accelerator, requested_backend


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "default"),
        ({"ACCELERATE_USE_FSDP": "true"}, "fsdp"),
        ({"ACCELERATE_USE_DEEPSPEED": "True"}, "deepspeed"),
        ({"ACCELERATE_USE_FSDP": "false"}, "default"),
    ],
)
def test_requested_backend(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str) -> None:
    for name in ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert requested_backend() == expected


def test_fsdp1_syncing_module_states_on_cpu_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accelerate's own error ('no available devices') becomes one line saying which options to change."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("on a GPU Accelerate syncs module states itself")
    # What `accelerate launch --config_file recipes/accelerate/fsdp.yaml --fsdp_version 1` exports.
    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED", raising=False)
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "1")
    monkeypatch.setenv("FSDP_CPU_RAM_EFFICIENT_LOADING", "true")
    monkeypatch.setenv("FSDP_SYNC_MODULE_STATES", "true")
    with pytest.raises(LemurError, match="fsdp_sync_module_states: false"):
        make_accelerator("no", 1, 1, 1.0)
