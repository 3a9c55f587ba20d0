"""lemur-data's plugin: built-in data sources and the ``lemur data`` commands."""

from __future__ import annotations

import click

from lemur.core import hookimpl
from lemur.core.components import ComponentSpec


@hookimpl
def lemur_data_sources() -> list[ComponentSpec]:
    return [
        ComponentSpec("jsonl", "lemur.data.sources.jsonl:JsonlSource", "JSON Lines files (.jsonl, .jsonl.gz)"),
        ComponentSpec("text-files", "lemur.data.sources.text_files:TextFilesSource", "Text files, one document each"),
        *_reader_sources(),
    ]


def _reader_sources() -> list[ComponentSpec]:
    """Parquet, Hugging Face, code trees, corpus presets and the instruction sets."""
    from lemur.data.sources.presets import PRESET_SOURCES

    sources = "lemur.data.sources"
    specs = [
        ComponentSpec(
            "parquet", f"{sources}.parquet:ParquetSource", "Parquet files, by row group", "lemur-data[parquet]"
        ),
        ComponentSpec("hf", f"{sources}.hf:HFSource", "Hugging Face datasets at a pinned revision", "lemur-data[hf]"),
        ComponentSpec("code-tree", f"{sources}.code_tree:CodeTreeSource", "Source files under a local directory"),
        ComponentSpec("url-list", f"{sources}.url_list:UrlListSource", "Files of a published URL list, streamed"),
        ComponentSpec("oasst1", f"{sources}.instructions:OASST1Source", "OpenAssistant 1 trees as conversations"),
        ComponentSpec("openorca", f"{sources}.instructions:OpenOrcaSource", "OpenOrca GPT-4 completions, sampled"),
        ComponentSpec("sharegpt", f"{sources}.instructions:ShareGPTSource", "ShareGPT conversations"),
        ComponentSpec("chatlogs", f"{sources}.instructions:ChatlogsSource", "Chatlogs conversations (ShareGPT format)"),
        ComponentSpec("evol-codealpaca", f"{sources}.instructions:EvolCodeAlpacaSource", "Evol-CodeAlpaca pairs"),
    ]
    for name, cls in PRESET_SOURCES.items():
        target = f"{sources}.presets:{cls.__name__}"
        specs.append(ComponentSpec(name, target, cls.description, cls.extra))
    return specs


@hookimpl
def lemur_data_steps() -> list[ComponentSpec]:
    return [
        ComponentSpec("tokenize", "lemur.data.tokenize:TokenizeStep", "Tokenize with a Hugging Face tokenizer"),
        ComponentSpec("pack", "lemur.data.packing:PackStep", "Best-fit-decreasing packing into rows"),
        ComponentSpec("normalize", "lemur.data.steps.normalize:Normalize", "Unicode NFC, newlines, control chars"),
        ComponentSpec("language", "lemur.data.steps.language:LanguageFilter", "langdetect filter", "lemur-data[lang]"),
        ComponentSpec(
            "non-english-runs",
            "lemur.data.steps.language:NonEnglishRunFilter",
            "Drop texts with runs of 3+ non-English characters",
            "lemur-data[lang]",
        ),
        ComponentSpec("exact-dedup", "lemur.data.steps.dedup_exact:ExactDedup", "Exact duplicates by text digest"),
        ComponentSpec("minhash-dedup", "lemur.data.steps.minhash:MinhashDedup", "MinHash-LSH near-duplicates"),
        ComponentSpec(
            "minhash-signatures",
            "lemur.data.steps.minhash_sharded:MinhashSignatures",
            "Sharded MinHash stage 1: write band keys",
        ),
        ComponentSpec(
            "minhash-filter",
            "lemur.data.steps.minhash_sharded:MinhashFilter",
            "Sharded MinHash stage 3: drop listed near-duplicates",
        ),
        ComponentSpec(
            "semantic-dedup",
            "lemur.data.steps.semantic:SemanticDedup",
            "Embedding cosine dedup (MiniLM + faiss)",
            "lemur-data[semantic]",
        ),
    ]


@click.group("data")
def data_group() -> None:
    """Build corpora: sources, filters, dedup, tokenization, packing, mixtures."""


@data_group.command("head")
@click.argument("source")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Source argument (repeatable).")
@click.option("-n", "count", default=5, show_default=True, help="How many documents to print.")
def head(source: str, options: tuple[str, ...], count: int) -> None:
    """Print the first documents of a data SOURCE, e.g. `lemur data head jsonl -o paths=x.jsonl`."""
    import itertools
    import json

    from lemur.core.components import Kind
    from lemur.core.errors import LemurError
    from lemur.core.plugins import load_component

    kwargs = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise LemurError(f"--option {option!r}: expected KEY=VALUE")
        kwargs[key] = value
    source_class = load_component(Kind.DATA_SOURCE, source)
    try:
        reader = source_class(**kwargs)
    except TypeError as error:
        raise LemurError(f"data source {source!r}: {error}") from None
    for document in itertools.islice(reader, count):
        click.echo(json.dumps({"id": document.id, "text": document.text[:200], "metadata": document.metadata}))


@hookimpl
def lemur_cli_commands(cli: click.Group) -> None:
    from lemur.data.commands import build_command, build_tokenizer_command, stats_command

    for command in (build_command, stats_command, build_tokenizer_command):
        data_group.add_command(command)
    cli.add_command(data_group)
