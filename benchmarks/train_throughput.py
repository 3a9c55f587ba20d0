"""Measure JAX pre-training throughput (tokens/s) and MFU, beside a plain PyTorch/Transformers loop on CPU.

Usage: .venv/bin/python benchmarks/train_throughput.py [--preset P] [--seq-len S] [--batch-size B] [--steps N]

Runs unchanged on CPU, GPU and TPU: it detects the platform and picks defaults for it
(CPU: the ~100M preset, float32, short rows; GPU/TPU: the ~1B preset, bf16, 4,096-token rows,
``--batch-size`` rows per device). Each step is a full optimizer step of the `jax` backend's
jitted train step (clipped Adam, fp32 master weights) on random tokens packed as 1-3 documents
per row; the first ``--warmup`` steps (compilation) are not timed. MFU uses the device's peak
bf16 FLOP/s from ``lemur.train.jax.metrics`` (MaxText's FLOP count); on a CPU there is no peak,
so MFU is reported as not meaningful. On CPU (or a GPU that torch can use) the same model runs
in a plain PyTorch/Transformers loop (AdamW, same clipping, same batch) in this same process;
timed steps alternate between the two so both see the same machine load, and the script
prints the ratio of medians. Goal (issue 8): >= 40% MFU on one H100/H200 with the 1B preset.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def packed_batch(rng: np.random.Generator, rows: int, seq_len: int, vocab: int) -> dict[str, np.ndarray]:
    """Random tokens packed as 1-3 documents per row (segment ids, per-document positions, full loss mask)."""
    tokens = rng.integers(3, vocab, size=(rows, seq_len), dtype=np.int32)
    segments = np.ones((rows, seq_len), np.int32)
    positions = np.tile(np.arange(seq_len, dtype=np.int32), (rows, 1))
    for row in range(rows):
        cuts = sorted(rng.choice(np.arange(1, seq_len), size=int(rng.integers(0, 3)), replace=False).tolist())
        for index, start in enumerate(cuts, start=2):
            segments[row, start:] = index
            positions[row, start:] = np.arange(seq_len - start)
    return {"tokens": tokens, "segment_ids": segments, "positions": positions, "loss_mask": np.ones_like(tokens)}


def jax_stepper(config, batch_rows: int, seq_len: int):
    """A function running one optimizer step of the `jax` backend's jitted train step (and waiting for it)."""
    import jax

    from lemur.train.jax.data import model_inputs
    from lemur.train.jax.optimizer import OptimizerConfig
    from lemur.train.jax.sharding import MeshConfig, global_batch, make_mesh
    from lemur.train.jax.step import Trainer

    mesh = make_mesh(MeshConfig())
    trainer = Trainer(config, OptimizerConfig(warmup_steps=10, total_steps=1000), mesh, seq_len)
    holder = {"state": trainer.init_state(0), "step": 0}
    rng = np.random.default_rng(0)
    batches = [
        global_batch(model_inputs(packed_batch(rng, batch_rows, seq_len, config.vocab_size)), mesh) for _ in range(2)
    ]

    def step() -> None:
        holder["state"], metrics = trainer.step(holder["state"], batches[holder["step"] % 2])
        holder["step"] += 1
        float(jax.device_get(metrics["loss"]))

    return step


def torch_stepper(config, batch_rows: int, seq_len: int, device: str):
    """A function running one step of a plain Transformers LlamaForCausalLM + AdamW loop (causal, no packing)."""
    import torch
    import transformers

    from lemur.train.jax.convert import config_to_hf

    torch.manual_seed(0)
    hf_config = transformers.LlamaConfig(**config_to_hf(config, "float32"))
    model = transformers.LlamaForCausalLM(hf_config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.0)
    rng = np.random.default_rng(0)
    tokens = torch.tensor(rng.integers(3, config.vocab_size, size=(batch_rows, seq_len)), device=device)

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(input_ids=tokens, labels=tokens).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()

    return step


def timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def torch_device(platform: str) -> str | None:
    """Where the PyTorch baseline runs: the CPU on CPU, CUDA on a GPU that torch sees, else nowhere."""
    try:
        import torch
    except ImportError:
        return None
    if platform == "cpu":
        return "cpu"
    return "cuda" if platform == "gpu" and torch.cuda.is_available() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", help="Model preset (default: 100m on CPU, 1b on GPU/TPU).")
    parser.add_argument("--seq-len", type=int, help="Row length (default: 256 on CPU, 4096 elsewhere).")
    parser.add_argument("--batch-size", type=int, help="Rows per device per step (default: 2 on CPU, 4 elsewhere).")
    parser.add_argument("--steps", type=int, default=5, help="Timed steps per implementation.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed steps first (compilation).")
    parser.add_argument("--remat", default=None, help="Remat policy (default: none on CPU, minimal elsewhere).")
    parser.add_argument("--dtype", default=None, help="Compute dtype (default: float32 on CPU, bfloat16 elsewhere).")
    parser.add_argument("--attention", default="auto", help="auto (cuDNN on GPU with bf16), xla or cudnn.")
    parser.add_argument("--no-torch", action="store_true", help="Skip the PyTorch/Transformers baseline.")
    args = parser.parse_args()

    import jax

    from lemur.train.jax.configs import get_preset
    from lemur.train.jax.metrics import peak_flops_per_device, training_flops_per_token

    platform = jax.default_backend()
    on_cpu = platform == "cpu"
    preset = args.preset or ("100m" if on_cpu else "1b")
    seq_len = args.seq_len or (256 if on_cpu else 4096)
    rows = (args.batch_size or (2 if on_cpu else 4)) * jax.device_count()
    config = get_preset(
        preset,
        dtype=args.dtype or ("float32" if on_cpu else "bfloat16"),
        remat_policy=args.remat or ("none" if on_cpu else "minimal"),
        attention=args.attention,
    )
    kind = jax.devices()[0].device_kind
    flops_per_token = training_flops_per_token(config, seq_len)
    peak = peak_flops_per_device(kind)
    print(
        f"platform {platform} ({jax.device_count()} x {kind}); "
        f"preset {preset} ({config.num_params() / 1e6:.0f}M params), "
        f"seq_len {seq_len}, {rows} rows/step, dtype {config.dtype}, remat {config.remat_policy}; "
        f"{flops_per_token / 1e9:.2f} GFLOP/token (6N + causal attention)"
    )

    tokens_per_step = rows * seq_len
    steppers = {"jax": jax_stepper(config, rows, seq_len)}
    device = None if args.no_torch else torch_device(platform)
    if device is not None:
        steppers["torch"] = torch_stepper(config, rows, seq_len, device)
    for step in steppers.values():
        for _ in range(args.warmup):
            step()
    # Alternate the implementations step by step so both see the same machine load.
    seconds: dict[str, list[float]] = {name: [] for name in steppers}
    for _ in range(args.steps):
        for name, step in steppers.items():
            seconds[name].append(timed(step))

    jax_seconds = statistics.median(seconds["jax"])
    jax_rate = tokens_per_step / jax_seconds
    per_device = jax_rate / jax.device_count()
    tflops = per_device * flops_per_token / 1e12
    if peak:
        mfu_text = f"MFU {per_device * flops_per_token / peak:.1%} of {peak / 1e12:.0f} TFLOP/s"
    else:
        mfu_text = f"MFU not meaningful (no bf16 peak for '{kind}')"
    print(
        f"jax   : {jax_seconds:8.3f} s/step  {jax_rate:12,.0f} tokens/s  {per_device:12,.0f} tokens/s/device  "
        f"{tflops:8.3f} TFLOP/s/device  {mfu_text}"
    )
    if "torch" not in seconds:
        reason = "--no-torch" if args.no_torch else f"no torch device for platform {platform}"
        print(f"torch : baseline skipped ({reason})")
        return
    torch_seconds = statistics.median(seconds["torch"])
    torch_rate = tokens_per_step / torch_seconds
    print(f"torch : {torch_seconds:8.3f} s/step  {torch_rate:12,.0f} tokens/s  (Transformers LlamaForCausalLM + AdamW)")
    print(
        f"ratio : jax / torch tokens/s = {jax_rate / torch_rate:.2f}x (median of {args.steps} alternating steps each)"
    )


if __name__ == "__main__":
    main()
