"""FLOPs per token against MaxText's published figures, the peak table, and MFU."""

from __future__ import annotations

import json

import pytest

from lemur.train.jax.configs import get_preset
from lemur.train.jax.metrics import MetricsLog, mfu, peak_flops_per_device, training_flops_per_token


@pytest.mark.parametrize(
    ("preset", "seq_len", "gflops", "params_b"),
    # Llama-2 published sizes (6.74B, 68.98B) and MaxText-convention (causal) training FLOPs per token.
    [("7b", 2048, 41.3, 6.74), ("7b", 4096, 42.9, 6.74), ("70b", 4096, 428.4, 68.98), ("70b", 2048, 420.3, 68.98)],
)
def test_flops_per_token(preset: str, seq_len: int, gflops: float, params_b: float) -> None:
    config = get_preset(preset)
    assert config.num_params() / 1e9 == pytest.approx(params_b, abs=0.005)
    assert training_flops_per_token(config, seq_len) / 1e9 == pytest.approx(gflops, abs=0.05)


@pytest.mark.parametrize(
    ("kind", "peak"),
    [
        ("TPU v4", 275e12),
        ("TPU v5 lite", 197e12),
        ("TPU v5", 459e12),
        ("TPU v5p", 459e12),
        ("TPU v6 lite", 918e12),
        ("NVIDIA H100 80GB HBM3", 989e12),
        ("NVIDIA H100 PCIe", 756e12),
        ("NVIDIA H200", 989e12),
        ("NVIDIA A100-SXM4-80GB", 312e12),
        ("cpu", None),
    ],
)
def test_peak_table(kind: str, peak: float | None) -> None:
    assert peak_flops_per_device(kind) == peak


def test_mfu_reproduces_maxtext_llama2_70b_on_v5p() -> None:
    """MaxText: 692 tokens/s/chip = 65.4% MFU for Llama-2-70B at 4,096 on v5p (its older count is slightly higher)."""
    assert mfu(692, get_preset("70b"), 4096, "TPU v5") == pytest.approx(0.646, abs=0.01)
    assert mfu(1000.0, get_preset("70b"), 4096, "cpu") is None


def test_metrics_log_writes_jsonl_and_tensorboard(tmp_path) -> None:
    log = MetricsLog(tmp_path)
    log.write(1, {"loss": 2.5, "mfu": None})
    log.write(2, {"loss": 2.0, "mfu": None})
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == [{"step": 1, "loss": 2.5, "mfu": None}, {"step": 2, "loss": 2.0, "mfu": None}]
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
