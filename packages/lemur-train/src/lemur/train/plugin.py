"""lemur-train's plugin: the ``jax`` train and model backends and the ``lemur train`` commands.

Importing this module imports only click and lemur.core (``lemur --help`` stays fast); JAX
loads inside the commands and component targets.
"""

from __future__ import annotations

from pathlib import Path

import click

from lemur.core import hookimpl
from lemur.core.components import ComponentSpec


@hookimpl
def lemur_train_backends() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            "jax",
            "lemur.train.jax.train:JaxTrainBackend",
            "Llama-2 pre-training in JAX/Flax: sharded (data, fsdp, tensor), resumable, MFU metrics",
            extra="lemur-train[jax]",
        ),
        ComponentSpec(
            "torch",
            "lemur.train.sft.trainer:TorchTrainBackend",
            "Lemur-Chat SFT with Transformers + Accelerate: ChatML, assistant-only loss, padding-free packing",
            extra="lemur-train[torch]",
        ),
    ]


@hookimpl
def lemur_model_backends() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            "jax",
            "lemur.train.jax.backend:JaxModelBackend",
            "Llama checkpoints (Hugging Face layout, e.g. a pre-training run's hf/) run with the Flax model",
            extra="lemur-train[jax,eval]",
        )
    ]


@click.group("train")
def train_group() -> None:
    """Train models: JAX pre-training on packed shards, Transformers SFT on conversations."""


@train_group.command("pretrain")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pre-training recipe YAML (e.g. recipes/lemur-70b-pretrain-train.yaml).",
)
@click.option("--run-dir", help="Override run_dir from the recipe.")
@click.option("--data", "data_path", help="Override data.path (a directory of packed shards).")
@click.option("--steps", type=int, help="Override steps (train until this optimizer step).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def pretrain(
    config_path: Path, run_dir: str | None, data_path: str | None, steps: int | None, no_progress: bool
) -> None:
    """Pre-train (or continue pre-training) a Llama model with the JAX backend.

    Resumes from the newest checkpoint in the run directory. Writes metrics.jsonl
    (loss, lr, grad_norm, tokens/s, MFU), TensorBoard events, Orbax checkpoints and, at the
    end, a Hugging Face checkpoint in <run_dir>/hf.
    """
    from lemur.core.config import read_yaml_mapping, validate_config
    from lemur.core.errors import MissingDependencyError

    try:
        from lemur.train.jax.train import TrainConfig, fit
    except ModuleNotFoundError as error:
        raise MissingDependencyError("lemur train pretrain", error.name or "jax", "lemur-train[jax]") from None
    data = read_yaml_mapping(config_path)
    if run_dir is not None:
        data["run_dir"] = run_dir
    if data_path is not None:
        data["data"] = {**(data.get("data") or {}), "path": data_path}
    if steps is not None:
        data["steps"] = steps
    config = validate_config(TrainConfig, data, str(config_path))
    result = fit(config, progress=not no_progress)
    last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
    click.echo(f"pretrain: step {result.step} in {result.run_dir} (last loss {last})")


@train_group.command("sft")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SFT recipe YAML (e.g. recipes/lemur-chat-sft-train.yaml).",
)
@click.option("--run-dir", help="Override run_dir from the recipe.")
@click.option("--data", "data_path", help="Override data.path (conversations .jsonl or a `lemur data build` output).")
@click.option("--model", "model_path", help="Override model (a Transformers causal LM directory).")
@click.option("--stop-at-step", type=int, help="Stop after this optimizer step (resume later with the same command).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def sft(
    config_path: Path,
    run_dir: str | None,
    data_path: str | None,
    model_path: str | None,
    stop_at_step: int | None,
    no_progress: bool,
) -> None:
    """Instruction-tune a Transformers causal LM (Lemur-Chat recipe) with the torch backend.

    Resumes from the newest checkpoint in the run directory. Writes metrics.jsonl, checkpoints
    and, at the end, <run_dir>/hf with the tokenizer and chat template embedded. For several
    GPUs or nodes run it under `accelerate launch --config_file recipes/accelerate/fsdp.yaml`.
    """
    from lemur.core.config import read_yaml_mapping, validate_config
    from lemur.core.errors import MissingDependencyError

    try:
        import accelerate  # noqa: F401
        import transformers  # noqa: F401

        from lemur.train.sft.config import SFTConfig
        from lemur.train.sft.trainer import fit as sft_fit
    except ModuleNotFoundError as error:
        raise MissingDependencyError("lemur train sft", error.name or "torch", "lemur-train[torch]") from None
    data = read_yaml_mapping(config_path)
    overrides = {"run_dir": run_dir, "model": model_path, "stop_at_step": stop_at_step}
    data.update({key: value for key, value in overrides.items() if value is not None})
    if data_path is not None:
        data["data"] = {**(data.get("data") or {}), "path": data_path}
    config = validate_config(SFTConfig, data, str(config_path))
    result = sft_fit(config, progress=not no_progress)
    last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
    exported = f", exported {result.export_dir}" if result.export_dir else ""
    if result.main_process:
        click.echo(f"sft: step {result.step}/{result.total_steps} in {result.run_dir} (last loss {last}){exported}")


@hookimpl
def lemur_cli_commands(cli: click.Group) -> None:
    cli.add_command(train_group)
