"""``fit(config)``: pre-train a Llama model on packed shards, with checkpoints, resume and metrics.

A run directory holds ``config.json`` (the resolved config), ``metrics.jsonl`` (one line per
optimizer step: loss, lr, grad_norm, tokens/s, MFU), ``tensorboard/``, ``checkpoints/<step>``
(Orbax, async) and, at the end, ``summary.json`` and ``hf/`` (a Hugging Face Llama checkpoint
the ``hf`` and ``jax`` model backends load). Starting a run whose directory has checkpoints
resumes from the newest one: same data position, same optimizer state, so the losses continue
exactly as in a run that never stopped.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from lemur.core.config import ConfigModel, load_config
from lemur.core.errors import ConfigError
from lemur.train.jax.checkpoint import CheckpointConfig
from lemur.train.jax.optimizer import OptimizerConfig
from lemur.train.jax.sharding import DistributedConfig, MeshConfig


class ModelConfig(ConfigModel):
    """Which model to train."""

    preset: str = Field("debug", description="Architecture preset: debug, 100m, 1b, 7b, 13b, 70b.")
    init_from_hf: str | None = Field(
        None, description="Hugging Face Llama directory (config.json + safetensors) to continue from; overrides preset."
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="LlamaConfig fields to change (dtype, remat_policy, attention, ...)."
    )


class DataConfig(ConfigModel):
    """Where the packed rows come from."""

    path: str = Field(description="Directory of packed shards written by `lemur data` (lemur.data.shards).")
    seed: int = Field(0, description="Seed of the shuffled row order.")


class TrainConfig(ConfigModel):
    """A pre-training run (``lemur train pretrain --config FILE``)."""

    run_dir: str = Field(description="Where checkpoints, metrics and the exported model go; reused to resume.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="The model.")
    data: DataConfig = Field(description="The packed training data.")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig, description="Optimizer and LR schedule.")
    mesh: MeshConfig = Field(default_factory=MeshConfig, description="Device mesh (data, fsdp, tensor).")
    distributed: DistributedConfig = Field(default_factory=DistributedConfig, description="Multi-host setup.")
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig, description="Checkpointing.")
    batch_size: int = Field(ge=1, description="Rows per optimizer step over all hosts (tokens = rows * seq_len).")
    grad_accum_steps: int = Field(1, ge=1, description="Micro-batches per optimizer step, inside the jitted step.")
    steps: int = Field(ge=1, description="Train until this optimizer step (a resumed run continues to it).")
    seed: int = Field(0, description="Seed of the weight initialisation.")
    tensorboard: bool = Field(True, description="Also write TensorBoard event files.")
    export_hf: bool = Field(True, description="Write a Hugging Face checkpoint (bf16 safetensors) to run_dir/hf.")


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What a finished (or stopped) run did."""

    run_dir: Path  #: the run directory
    step: int  #: the optimizer step reached
    losses: list[float]  #: the loss of every step run by this invocation, in order
    resumed_from: int | None  #: the checkpoint step this invocation started from, if any
    tokens_per_second: float | None  #: mean over the steps after the first (compilation) step


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and validate a pre-training YAML recipe.

    Raises:
        ConfigError: One line naming the file, the field and what is allowed.
    """
    return load_config(path, TrainConfig)


def _model_config(config: TrainConfig):
    from lemur.train.jax.configs import get_preset
    from lemur.train.jax.convert import config_from_hf

    if config.model.init_from_hf:
        hf_dir = Path(config.model.init_from_hf)
        if not (hf_dir / "config.json").is_file():
            raise ConfigError(f"model.init_from_hf: {hf_dir} has no config.json; point it at a Hugging Face Llama dir")
        return config_from_hf(json.loads((hf_dir / "config.json").read_text()), **config.model.overrides)
    return get_preset(config.model.preset, **config.model.overrides)


def fit(config: TrainConfig, progress: bool = True) -> RunResult:
    """Train until ``config.steps``, resuming from the newest checkpoint in ``config.run_dir``.

    Args:
        config: The run.
        progress: Show a progress bar on the first host.

    Raises:
        ConfigError: Bad model, mesh, batch or data settings (checked before anything is written).
    """
    from lemur.train.jax.sharding import initialize_distributed

    initialize_distributed(config.distributed)

    import jax
    import numpy as np
    from tqdm import tqdm

    from lemur.data.shards import PackedDataset
    from lemur.train.jax.checkpoint import Checkpointer
    from lemur.train.jax.convert import load_hf_checkpoint, save_hf_checkpoint
    from lemur.train.jax.data import PackedBatches, model_inputs
    from lemur.train.jax.metrics import MetricsLog, mfu, training_flops_per_token
    from lemur.train.jax.sharding import global_batch, make_mesh, mesh_shape
    from lemur.train.jax.step import Trainer

    # Validate everything before the first byte is written.
    model_config = _model_config(config)
    dataset = PackedDataset(config.data.path)
    data, fsdp, _ = mesh_shape(config.mesh, jax.device_count())
    shards = data * fsdp * config.grad_accum_steps
    if config.batch_size % shards:
        raise ConfigError(
            f"train: batch_size {config.batch_size} must be a multiple of "
            f"data*fsdp devices x grad_accum_steps = {shards}"
        )
    first_host = jax.process_index() == 0
    run_dir = Path(config.run_dir)
    check_resumable(config, run_dir)
    if first_host:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(config.model_dump_json(indent=2) + "\n")

    mesh = make_mesh(config.mesh)
    trainer = Trainer(model_config, config.optimizer, mesh, dataset.seq_len, config.grad_accum_steps)
    batches = PackedBatches(dataset, config.batch_size, config.data.seed, jax.process_index(), jax.process_count())
    checkpointer = Checkpointer(run_dir / "checkpoints", config.checkpoint)
    resumed_from = checkpointer.latest_step()
    if resumed_from is not None:
        state, data_state = checkpointer.restore(resumed_from, trainer.abstract_state)
        batches.restore(data_state)
    elif config.model.init_from_hf:
        state = trainer.state_from_params(load_hf_checkpoint(config.model.init_from_hf)[1])
    else:
        state = trainer.init_state(config.seed)

    flops_per_token = training_flops_per_token(model_config, dataset.seq_len)
    device_kind = jax.devices()[0].device_kind
    log = MetricsLog(run_dir, enabled=first_host, tensorboard=config.tensorboard)
    step = int(jax.device_get(state["step"]))
    losses: list[float] = []
    rates: list[float] = []
    bar = tqdm(total=config.steps, initial=step, disable=not (progress and first_host), desc="pretrain", unit="step")
    try:
        while step < config.steps:
            started = time.perf_counter()
            batch = global_batch(model_inputs(next(batches)), mesh)
            state, device_metrics = trainer.step(state, batch)
            metrics = {name: float(value) for name, value in jax.device_get(device_metrics).items()}
            seconds = time.perf_counter() - started
            step += 1
            tokens_per_second = config.batch_size * dataset.seq_len / seconds
            per_device = tokens_per_second / jax.device_count()
            utilisation = mfu(per_device, model_config, dataset.seq_len, device_kind)
            values = {
                **metrics,
                "step_seconds": seconds,
                "tokens_per_second": tokens_per_second,
                "tokens_per_second_per_device": per_device,
                "tflops_per_device": per_device * flops_per_token / 1e12,
                "mfu": utilisation,
            }
            log.write(step, values)
            losses.append(metrics["loss"])
            if len(losses) > 1:
                rates.append(tokens_per_second)
            if not np.isfinite(metrics["loss"]):
                raise ConfigError(f"train: loss became {metrics['loss']} at step {step}; lower optimizer.peak_lr")
            checkpointer.save(step, state, batches.state(), force=step == config.steps)
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}", tok_s=f"{tokens_per_second:,.0f}")
    finally:
        bar.close()
        log.close()
        checkpointer.close()

    if config.export_hf:
        from jax.experimental import multihost_utils

        # Cast on the devices (keeping the sharding) before gathering: half the host memory of float32.
        to_bf16 = jax.jit(lambda p: jax.tree.map(lambda x: x.astype(jax.numpy.bfloat16), p))
        params = multihost_utils.process_allgather(to_bf16(state["params"]), tiled=True)
        if first_host:
            save_hf_checkpoint(run_dir / "hf", model_config, params, tokenizer_from=config.model.init_from_hf)
    mean_rate = float(np.mean(rates)) if rates else None
    if first_host:
        summary = {
            "step": step,
            "resumed_from": resumed_from,
            "final_loss": losses[-1] if losses else None,
            "tokens_per_second": mean_rate,
            "device_kind": device_kind,
            "devices": jax.device_count(),
            "processes": jax.process_count(),
            "mfu_note": None if mfu(1.0, model_config, dataset.seq_len, device_kind) else f"no peak for {device_kind}",
            "versions": _versions(),
        }
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return RunResult(run_dir, step, losses, resumed_from, mean_rate)


#: Fields that must not change when a run directory is resumed (mesh, hosts and ``steps`` may).
RESUME_FIELDS = ("model", "data", "optimizer", "batch_size", "grad_accum_steps", "seed")


def check_resumable(config: TrainConfig, run_dir: Path) -> None:
    """Refuse to resume checkpoints in ``run_dir`` written with different model, data or optimizer settings.

    Raises:
        ConfigError: A field of :data:`RESUME_FIELDS` differs from the run's ``config.json``.
    """
    checkpoints = run_dir / "checkpoints"
    saved = run_dir / "config.json"
    if not (saved.is_file() and checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir())):
        return
    previous = json.loads(saved.read_text())
    current = config.model_dump(mode="json")
    for field in RESUME_FIELDS:
        if previous.get(field) != current[field]:
            raise ConfigError(
                f"{saved}: field '{field}' was {previous.get(field)!r} but is now {current[field]!r}; "
                "resuming needs the same settings (use a new run_dir to start over)"
            )


def _versions() -> dict[str, str]:
    import importlib.metadata

    names = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "lemur-train", "lemur-data")
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


class JaxTrainBackend:
    """The ``jax`` train backend: ``fit(config) -> RunResult`` over packed shards."""

    name = "jax"
    config_model = TrainConfig

    def fit(self, config: TrainConfig) -> RunResult:
        """Run :func:`fit`."""
        return fit(config)
