"""Measure SFT training throughput: padded vs padding-free micro-batches on the same examples (issue 9).

Usage: .venv/bin/python benchmarks/sft_throughput.py [--examples N] [--micro-batch B] [--steps S] [--device D]

Each timed step is a full optimizer step of the `torch` backend's pieces (the same collation,
fp32 token-loss sum and AdamW as ``lemur train sft``) over one global batch of examples, run once
padded (one row per example, right-padded to the longest in its micro-batch) and once
padding-free (the micro-batch concatenated into one row, positions reset). Both layouts see the
same examples in the same order, alternating step by step so they share the machine's load;
tokens/s counts real (non-padding) tokens. The script prints both medians and the ratio
padding-free / padded (goal: at least 1.3x on realistic length distributions).

Lengths: ``--lengths lognormal`` (default) draws conversation lengths from a log-normal with
median ``--median`` tokens and shape ``--sigma`` (0.9 gives a ShareGPT-like long tail), cut to
``--max-length``; ``--lengths real`` uses GSM8K + MBPP conversations from ``../shared/data``
tokenized with a BPE trained on them (short, narrow: a lower bound on the gain). Token ids are
random; throughput does not depend on them.

Runs unchanged on CPU and GPU. CPU: a ~20M-parameter Llama in float32 with ``sdpa_varlen``
(per-example SDPA on padding-free rows). GPU: a ~1.1B Llama (TinyLlama shape) in bf16 autocast
with ``flash_attention_2`` when flash-attn is installed (else ``sdpa_varlen``); there the
script also reports MFU from the model FLOPs of the real tokens (6 x matmul params per token
plus causal attention per example) over the GPU's dense bf16 peak.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

#: Dense bf16 peak FLOP/s by device-name prefix (NVIDIA datasheets, dense: H100/H200 SXM 989, A100 312).
PEAK_BF16 = (("nvidia h100 pcie", 756e12), ("nvidia h100", 989e12), ("nvidia h200", 989e12), ("nvidia a100", 312e12))


def model_config(device: str, vocab: int):
    """A Llama config: ~20M parameters on CPU, ~1.1B (TinyLlama's shape) on GPU."""
    from transformers import LlamaConfig

    if device == "cpu":
        shape = {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4, "num_attention_heads": 4}
        return LlamaConfig(vocab_size=vocab, num_key_value_heads=4, max_position_embeddings=8192, **shape)
    shape = {"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32}
    return LlamaConfig(vocab_size=vocab, num_key_value_heads=4, max_position_embeddings=8192, **shape)


def lengths_of(args: argparse.Namespace, rng: np.random.Generator) -> list[int]:
    """Example lengths in tokens (see the module docstring)."""
    if args.lengths == "lognormal":
        raw = rng.lognormal(np.log(args.median), args.sigma, size=args.examples)
        return np.clip(raw.astype(int), 16, args.max_length).tolist()
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    texts = [json.loads(line) for line in (shared / "gsm8k" / "test.jsonl").read_text().splitlines()]
    pieces = [r["question"] + r["answer"] for r in texts]
    mbpp = [json.loads(line) for line in (shared / "mbpp" / "mbpp.jsonl").read_text().splitlines()]
    pieces += [r["text"] + r["code"] + "\n".join(r["test_list"]) for r in mbpp]
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(pieces, trainers.BpeTrainer(vocab_size=4096, show_progress=False))
    order = rng.permutation(len(pieces))[: args.examples]
    return [min(args.max_length, len(bpe.encode(pieces[i]).ids) + 24) for i in order.tolist()]


def make_examples(lengths: list[int], vocab: int, rng: np.random.Generator):
    """Examples with random ids and the second half of each as the assistant's (trained) reply."""
    from lemur.train.sft.examples import Example

    examples = []
    for length in lengths:
        mask = np.zeros(length, dtype=bool)
        mask[length // 2 :] = True
        examples.append(Example(rng.integers(3, vocab, size=length).astype(np.int64), mask))
    return examples


def attention_flops(config, lengths: list[int]) -> float:
    """Training FLOPs of causal attention scores and values over examples of ``lengths`` (MaxText's count)."""
    head_dim = config.hidden_size // config.num_attention_heads
    return 6.0 * config.num_hidden_layers * config.num_attention_heads * head_dim * sum(n * n for n in lengths)


def matmul_params(config) -> int:
    """Weights in a matmul per token: attention and MLP projections of every layer, plus the output layer."""
    d, f = config.hidden_size, config.intermediate_size
    hd = d // config.num_attention_heads
    per_layer = d * (config.num_attention_heads + 2 * config.num_key_value_heads) * hd + d * d + 3 * d * f
    return config.num_hidden_layers * per_layer + d * config.vocab_size


def main() -> None:
    """Parse arguments, time both layouts alternately, print tokens/s, the ratio and (on a GPU) MFU."""
    import torch
    from transformers import LlamaForCausalLM

    from lemur.train.sft.attention import register as register_varlen
    from lemur.train.sft.collate import collate, to_device, trained_tokens
    from lemur.train.sft.trainer import token_loss_sum

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda.")
    parser.add_argument("--lengths", choices=("lognormal", "real"), default="lognormal", help="Length source.")
    parser.add_argument("--median", type=float, default=300, help="Median example length (lognormal), tokens.")
    parser.add_argument("--sigma", type=float, default=0.9, help="Log-normal shape (spread of lengths).")
    parser.add_argument("--max-length", type=int, default=2048, help="Examples are cut to this many tokens.")
    parser.add_argument("--examples", type=int, default=None, help="Examples in the pool (default: 8 steps' worth).")
    parser.add_argument("--micro-batch", type=int, default=None, help="Examples per forward (CPU 4, GPU 8).")
    parser.add_argument("--accumulation", type=int, default=2, help="Micro-batches per optimizer step.")
    parser.add_argument("--steps", type=int, default=3, help="Timed steps per layout.")
    parser.add_argument("--warmup", type=int, default=1, help="Untimed steps per layout first.")
    parser.add_argument(
        "--attention",
        default="auto",
        choices=("auto", "sdpa_varlen", "sdpa", "eager", "flash_attention_2"),
        help="Attention implementation (auto: flash_attention_2 on GPU when installed, else sdpa_varlen).",
    )
    parser.add_argument("--vocab", type=int, default=32000, help="Vocabulary size (Llama-2: 32,000).")
    args = parser.parse_args()
    micro = args.micro_batch or (4 if args.device == "cpu" else 8)
    per_step = micro * args.accumulation
    args.examples = args.examples or per_step * (args.steps + args.warmup)
    rng = np.random.default_rng(0)
    lengths = lengths_of(args, rng)
    examples = make_examples(lengths, args.vocab, rng)
    config = model_config(args.device, args.vocab)
    register_varlen()
    attention = args.attention
    if attention == "auto":
        attention = "sdpa_varlen"
        if args.device != "cpu":
            try:
                import flash_attn  # noqa: F401

                attention = "flash_attention_2"
            except ImportError:
                print("note: flash-attn is not installed; padding-free rows use per-example SDPA (sdpa_varlen)")
    torch.manual_seed(0)
    model = LlamaForCausalLM._from_config(config, attn_implementation=attention).to(args.device)
    model.config.use_cache = False
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    bf16 = args.device != "cpu" and torch.cuda.is_bf16_supported()
    dtype_note = "bf16 autocast" if bf16 else "float32"
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params / 1e6:.1f}M parameters, {dtype_note}, attention {attention}, device {args.device}")
    print(
        f"lengths ({args.lengths}): {len(lengths)} examples, mean {np.mean(lengths):.0f}, "
        f"median {np.median(lengths):.0f}, max {max(lengths)} tokens; {micro} per micro-batch x {args.accumulation}"
    )

    def step(layout: str, batch_examples: list) -> float:
        """One optimizer step; returns seconds."""
        start = time.perf_counter()
        denominator = trained_tokens(batch_examples)
        for i in range(0, len(batch_examples), micro):
            batch = to_device(collate(batch_examples[i : i + micro], layout, 0), args.device)
            with torch.autocast(args.device, dtype=torch.bfloat16, enabled=bf16):
                loss = token_loss_sum(model, batch) / denominator
            loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if args.device != "cpu":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    seconds: dict[str, list[float]] = {"padded": [], "padding-free": []}
    tokens: list[int] = []
    for index in range(args.warmup + args.steps):
        chosen = examples[index * per_step : (index + 1) * per_step]
        for layout in ("padded", "padding-free") if index % 2 == 0 else ("padding-free", "padded"):
            elapsed = step(layout, chosen)
            if index >= args.warmup:
                seconds[layout].append(elapsed)
        if index >= args.warmup:
            tokens.append(sum(len(e) for e in chosen))
    rates = {k: [t / s for t, s in zip(tokens, v, strict=True)] for k, v in seconds.items()}
    medians = {k: statistics.median(v) for k, v in rates.items()}
    for layout, rate in medians.items():
        print(f"{layout:>13}: {rate:,.0f} tokens/s (median of {args.steps} steps)")
    print(f"ratio padding-free / padded: {medians['padding-free'] / medians['padded']:.2f}x")
    if args.device != "cpu":
        name = torch.cuda.get_device_name().lower()
        peak = next((flops for prefix, flops in PEAK_BF16 if name.startswith(prefix)), None)
        if peak is None:
            print(f"MFU: unknown peak for {name!r}")
        else:
            timed = examples[args.warmup * per_step : (args.warmup + args.steps) * per_step]
            flops = 6.0 * matmul_params(config) * sum(len(e) for e in timed) + attention_flops(
                config, [len(e) for e in timed]
            )
            for layout, values in seconds.items():
                print(f"MFU {layout}: {flops / sum(values) / peak:.1%} of {peak / 1e12:.0f} TFLOP/s ({name})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
