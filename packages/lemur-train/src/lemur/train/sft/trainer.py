"""The SFT loop: AdamW, warm-up + cosine, gradient accumulation, bf16 autocast, checkpoints, export.

The loss of an optimizer step is the sum of token cross-entropies over the whole global batch
divided by its number of trained tokens, whatever the layout: each process scales its partial
sum by ``processes / global tokens`` (data-parallel all-reduce averages gradients), so one
process, several processes, padded and padding-free batches all optimise the same objective.
Launch on several devices or nodes with ``accelerate launch`` (see ``recipes/accelerate/``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from lemur.train.sft.config import SFTConfig


@dataclasses.dataclass
class SFTResult:
    """What a run did.

    Attributes:
        run_dir: The run directory.
        step: Optimizer steps done in total (including before a resume).
        total_steps: Steps of the full schedule.
        losses: Loss per step run in this call (mean over trained tokens of the global batch).
        resumed_from: Step of the checkpoint resumed from (0 when fresh).
        export_dir: The exported model, or None when the run stopped early or export is off.
        tokens_per_second: Input tokens (all processes, padding excluded) per second of this call.
        main_process: Whether this process is the main one (the one that reports) of its launch.
    """

    run_dir: Path
    step: int
    total_steps: int
    losses: list[float]
    resumed_from: int
    export_dir: Path | None
    tokens_per_second: float
    main_process: bool = True


def _precision(choice: str) -> str:
    import torch

    if choice == "bf16" or (choice == "auto" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        return "bf16"
    return "no"


def _optimizer(model: Any, config: SFTConfig) -> Any:
    import torch

    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim < 2 or "norm" in name else decay).append(parameter)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
    )


def token_loss_sum(model: Any, batch: dict[str, Any]) -> Any:
    """Sum (not mean) of fp32 cross-entropy over the batch's labelled positions."""
    import torch

    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs, use_cache=False).logits
    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=-100, reduction="sum"
    )


def _write_metrics(path: Path, keep_until: int, rows: list[dict[str, Any]]) -> None:
    kept = []
    if path.is_file():
        kept = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        kept = [line for line in kept if json.loads(line)["step"] <= keep_until]
    path.write_text("".join(f"{line}\n" for line in kept + [json.dumps(r) for r in rows]), encoding="utf-8")


def fit(config: SFTConfig, progress: bool = True) -> SFTResult:
    """Fine-tune ``config.model`` on ``config.data``; resumes from the newest checkpoint in ``run_dir``.

    Writes ``<run_dir>/config.json``, ``metrics.jsonl`` (one line per step: loss, lr, grad_norm,
    tokens, tokens/s), checkpoints every ``save_every`` steps and at a stop, ``hf/`` at the end and
    ``summary.json`` (steps, last loss, tokens/s, processes, distributed type, precision, package versions).

    Raises:
        LemurError: Bad data, model or batch layout (see the modules it calls).
    """
    import torch
    from accelerate import PartialState
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from lemur.train.sft.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
    from lemur.train.sft.collate import collate, to_device, trained_tokens
    from lemur.train.sft.examples import load_examples
    from lemur.train.sft.export import export_model
    from lemur.train.sft.launch import make_accelerator
    from lemur.train.sft.model import load_model, load_tokenizer, pad_id
    from lemur.train.sft.schedule import (
        check_batch_layout,
        learning_rate,
        rank_micro_batches,
        step_examples,
        total_steps,
    )
    from lemur.train.sft.templates import get_chat_template

    template = get_chat_template(config.data.template)
    run_dir = Path(config.run_dir)
    # Without a GPU, processes started by `accelerate launch` (torchrun) join a gloo group on the
    # CPU; Accelerate only does that when told the run is a CPU run (see lemur.train.sft.launch).
    state = PartialState(cpu=not torch.cuda.is_available())
    world, rank = state.num_processes, state.process_index
    accumulation = check_batch_layout(config.global_batch_size, config.micro_batch_size, world)
    accelerator = make_accelerator(
        _precision(config.precision), accumulation, config.micro_batch_size, config.max_grad_norm
    )
    tokenizer = load_tokenizer(config.tokenizer or config.model, template)
    examples = load_examples(config.data.path, tokenizer, template, config.data.max_length, config.data.limit)
    total = config.max_steps or total_steps(len(examples), config.epochs, config.global_batch_size)
    set_seed(config.seed)
    model = load_model(config.model, tokenizer, config.attention, config.gradient_checkpointing)
    optimizer = _optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: learning_rate(s, total, 1.0, config.min_learning_rate / config.learning_rate, config.warmup_ratio),
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.model_dump(mode="json"), indent=1), encoding="utf-8")
    start, resumed_from = 0, 0
    checkpoint = latest_checkpoint(run_dir)
    accelerator.wait_for_everyone()
    if checkpoint is not None:
        start = resumed_from = int(load_checkpoint(accelerator, checkpoint)["step"])
    stop = min(total, config.stop_at_step or total)
    padding = pad_id(tokenizer)
    losses, rows, tokens_seen = [], [], 0
    began = time.perf_counter()
    model.train()
    bar = tqdm(
        total=stop, initial=start, desc="sft", unit="step", disable=not (progress and accelerator.is_main_process)
    )
    for step in range(start, stop):
        indices = step_examples(step, len(examples), config.global_batch_size, config.seed)
        global_tokens = trained_tokens([examples[i] for i in indices.tolist()])
        step_sum = torch.zeros((), device=accelerator.device)
        step_inputs = 0
        for micro in rank_micro_batches(indices, rank, world, config.micro_batch_size):
            chosen = [examples[i] for i in micro.tolist()]
            batch = to_device(collate(chosen, config.data.packing, padding), accelerator.device)
            step_inputs += sum(len(e) for e in chosen)
            with accelerator.accumulate(model), accelerator.autocast():
                loss_sum = token_loss_sum(model, batch)
                # accelerator.backward divides by the accumulation steps; undo it so the
                # gradient is d(global token-loss sum)/d(theta) / global trained tokens.
                accelerator.backward(loss_sum * (world * accumulation / global_tokens))
                grad_norm = None
                if accelerator.sync_gradients and config.max_grad_norm is not None:
                    grad_norm = accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
            step_sum += loss_sum.detach()
        lr = scheduler.get_last_lr()[0]
        scheduler.step()
        loss = float(accelerator.reduce(step_sum, reduction="sum")) / global_tokens
        inputs_all = int(accelerator.reduce(torch.tensor(step_inputs, device=accelerator.device), reduction="sum"))
        tokens_seen += inputs_all
        losses.append(loss)
        elapsed = time.perf_counter() - began
        rows.append(
            {
                "step": step + 1,
                "loss": loss,
                "lr": lr,
                "grad_norm": float(grad_norm) if grad_norm is not None else None,
                "tokens": inputs_all,
                "trained_tokens": global_tokens,
                "tokens_per_s": tokens_seen / elapsed if elapsed > 0 else 0.0,
            }
        )
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
        done = step + 1
        if done % config.save_every == 0 or done == stop:
            if accelerator.is_main_process:
                _write_metrics(run_dir / "metrics.jsonl", resumed_from, rows)
            save_checkpoint(accelerator, run_dir, done, {"total_steps": total}, config.keep_checkpoints)
    bar.close()
    export_dir = None
    if config.export and stop == total and (start < stop or not (run_dir / "hf").is_dir()):
        export_dir = export_model(accelerator, model, tokenizer, template, run_dir / "hf")
    elif (run_dir / "hf").is_dir() and stop == total:
        export_dir = run_dir / "hf"
    elapsed = time.perf_counter() - began
    rate = tokens_seen / max(elapsed, 1e-9)
    result = SFTResult(
        run_dir, max(start, stop), total, losses, resumed_from, export_dir, rate, accelerator.is_main_process
    )
    if accelerator.is_main_process:
        _write_summary(result, accelerator, len(examples), config)
    return result


def _write_summary(result: SFTResult, accelerator: Any, num_examples: int, config: SFTConfig) -> None:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("lemur-train", "torch", "transformers", "accelerate"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    summary = {
        "step": result.step,
        "total_steps": result.total_steps,
        "resumed_from": result.resumed_from,
        "last_loss": result.losses[-1] if result.losses else None,
        "tokens_per_second": result.tokens_per_second,
        "examples": num_examples,
        "processes": accelerator.num_processes,
        "distributed_type": accelerator.distributed_type.value,  # NO, MULTI_CPU, MULTI_GPU, FSDP, DEEPSPEED
        "mixed_precision": accelerator.mixed_precision,
        "packing": config.data.packing,
        "export_dir": str(result.export_dir) if result.export_dir else None,
        "versions": versions,
    }
    (result.run_dir / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


class TorchTrainBackend:
    """The ``torch`` train backend: ``fit(config) -> SFTResult`` (Lemur-Chat SFT with Transformers + Accelerate)."""

    name = "torch"
    config_model = SFTConfig

    def fit(self, config: SFTConfig) -> SFTResult:
        """Run :func:`fit`."""
        return fit(config)
