"""``lemur eval run``: evaluate a model on benchmarks, from flags or a YAML file (see :mod:`lemur.eval.config`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


@click.command("run")
@click.argument("config_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", metavar="SPEC", help="BACKEND[:ARG][,key=value...], e.g. replay:runs/x.jsonl.")
@click.option("--benchmarks", metavar="A,B", help="Comma-separated benchmark names (lemur eval benchmarks).")
@click.option("--limit", type=int, metavar="N", help="Only the first N samples of each benchmark.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR", help="Run directory.")
@click.option("--resume", is_flag=True, help="Continue the run in --out (same model, benchmarks and limit).")
@click.option("--executor", type=click.Choice(["local", "process", "ray"]), help="Where work runs [default: local].")
@click.option("--workers", type=int, metavar="N", help="Work items in flight at once [default: 4].")
@click.option("--ray-address", metavar="ADDR", help="Ray cluster to join (default: start a local one).")
@click.option("--chunk-size", type=int, metavar="N", help="Requests per backend call [default: 16].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Local mirror of benchmark data.")
@click.option("--cache", type=click.Path(dir_okay=False, path_type=Path), help="Model-call cache file (SQLite).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the model-call cache.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
def run_command(config_file: Path | None, resume: bool, no_cache: bool, no_progress: bool, **flags: Any) -> None:
    """Generate with a model on benchmarks, score, and write a run directory.

    Settings come from CONFIG_FILE (YAML, keys as in `--help` with underscores) and from the
    flags; a key set in both must agree. Everything is checked before anything is written;
    a killed run continues with --resume. Example:

    \b
        lemur eval run --model replay:runs/x.jsonl --benchmarks gsm8k --limit 50 --out runs/y
    """
    from lemur.core.config import read_yaml_mapping, validate_config
    from lemur.core.errors import ConfigError
    from lemur.eval.config import RunConfig
    from lemur.eval.runner import run

    overrides = {key: value for key, value in flags.items() if value is not None}
    if no_cache:
        overrides["use_cache"] = False
    if no_progress:
        overrides["progress"] = False
    data = read_yaml_mapping(config_file) if config_file is not None else {}
    source = str(config_file) if config_file is not None else "command line"
    if config_file is None:
        missing = [f"--{key}" for key in ("model", "benchmarks", "out") if key not in overrides]
        if missing:
            raise ConfigError(f"lemur eval run: missing {', '.join(missing)} (or give a CONFIG_FILE)")
    config = validate_config(RunConfig, data, source, overrides)
    summary = run(config, resume=resume)
    for name, entry in summary["benchmarks"].items():
        click.echo(f"{name:<24} {entry['metric']:<14} {entry['scores'][entry['metric']]:.4f}  (n={entry['n']})")
    click.echo(f"wrote {config.out}")
