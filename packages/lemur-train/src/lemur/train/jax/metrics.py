"""Training FLOPs, peak device FLOP/s, MFU, and the per-step metrics log (JSONL + TensorBoard).

FLOPs are counted as MaxText does (``calculate_tflops_training_per_device``): every matmul
with a weight, forward and backward (``6 * N_matmul`` per token, the output layer included,
the embedding lookup not), plus causal attention (``6 * layers * seq_len * heads * head_dim``
per token: half of the full ``QK^T`` and ``PV`` products). Rematerialisation is not counted
(that would be hardware FLOPs, not model FLOPs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lemur.train.jax.configs import LlamaConfig

#: Dense bf16 peak FLOP/s per JAX device (one TPU chip; one GPU), by ``device_kind`` prefix.
#: Sources: Google Cloud TPU pages and MaxText's table (v4 275, v5e 197, v5p 459, v6e 918);
#: NVIDIA datasheets, dense not sparse (H100/H200 SXM 989, H100 PCIe 756, A100 312).
PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("tpu v4", 275e12),
    ("tpu v5 lite", 197e12),
    ("tpu v5e", 197e12),
    ("tpu v5p", 459e12),
    ("tpu v5", 459e12),
    ("tpu v6 lite", 918e12),
    ("tpu v6e", 918e12),
    ("nvidia h100 pcie", 756e12),
    ("nvidia h100", 989e12),
    ("nvidia h200", 989e12),
    ("nvidia gh200", 989e12),
    ("nvidia a100", 312e12),
)


def peak_flops_per_device(device_kind: str) -> float | None:
    """Peak dense bf16 FLOP/s of one device named ``device_kind`` (``jax.devices()[0].device_kind``).

    Returns:
        FLOP/s, or None for a device not in :data:`PEAK_BF16_FLOPS` (a CPU: MFU is not meaningful).
    """
    kind = " ".join(device_kind.lower().replace("-", " ").split())
    for prefix, flops in PEAK_BF16_FLOPS:
        if kind.startswith(prefix):
            return flops
    return None


def matmul_params(config: LlamaConfig) -> int:
    """Weights that take part in a matmul per token: every layer's projections plus the output layer."""
    d, f, h, k, hd = (
        config.hidden_size,
        config.intermediate_size,
        config.num_heads,
        config.num_kv_heads,
        config.head_dim,
    )
    per_layer = d * (h + 2 * k) * hd + h * hd * d + 3 * d * f
    return config.num_layers * per_layer + d * config.vocab_size


def training_flops_per_token(config: LlamaConfig, seq_len: int) -> float:
    """Model FLOPs to train on one token (forward + backward) at sequence length ``seq_len``."""
    attention = 6 * config.num_layers * seq_len * config.num_heads * config.head_dim
    return 6 * matmul_params(config) + attention


def mfu(tokens_per_second_per_device: float, config: LlamaConfig, seq_len: int, device_kind: str) -> float | None:
    """Model FLOPs utilisation in [0, 1], or None when the device's peak is unknown."""
    peak = peak_flops_per_device(device_kind)
    if peak is None:
        return None
    return tokens_per_second_per_device * training_flops_per_token(config, seq_len) / peak


class MetricsLog:
    """Writes one JSON object per step to ``metrics.jsonl`` (flushed) and scalars to TensorBoard.

    Args:
        run_dir: Directory receiving ``metrics.jsonl`` and ``tensorboard/``.
        enabled: False on every host but the first, so only one writes.
        tensorboard: Whether to also write TensorBoard event files (needs ``tensorboardX``).
    """

    def __init__(self, run_dir: str | Path, enabled: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        self._file = None
        self._writer = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(str(Path(run_dir) / "tensorboard"))

    def write(self, step: int, values: dict[str, Any]) -> None:
        """Record ``values`` for optimizer step ``step``; None values go to JSONL only."""
        if not self.enabled or self._file is None:
            return
        self._file.write(json.dumps({"step": step, **values}) + "\n")
        self._file.flush()
        if self._writer is not None:
            for name, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._writer.add_scalar(f"train/{name}", value, step)

    def close(self) -> None:
        """Flush and close the files."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
