"""``lemur data build``: a recipe's sources → steps → tokenize → pack → shards → mixture.

Output directory layout::

    <out>/recipe.json                      the resolved recipe (a rerun must use the same one)
    <out>/logs/completions/<rank>          executor completion markers (one rank = one source shard)
    <out>/logs/stats/<rank>.json           per-rank statistics (every step's counters)
    <out>/sources/<name>/shard-<k>/        packed, memory-mapped shards (see lemur.data.shards)
    <out>/mixture/{rows.bin,index.json}    the sampled mixture (weighted recipes only)
    <out>/summary.json                     totals, realised mixture, versions

Rank ``r`` builds shard ``r % tasks_per_source`` of source ``r // tasks_per_source``. A source
that takes ``shard``/``num_shards`` (the url-list, RedPajama and DM Mathematics sources split
by file) is opened with them, so a rank fetches only its own files; any other source is read
whole and the shard keeps the documents whose ordinal ``i`` has ``i % tasks_per_source == shard``.
Reruns skip finished ranks (see :mod:`lemur.data.executors`) and an existing mixture.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import itertools
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lemur.core.errors import LemurError
from lemur.data.mixture import Recipe, SourceSpec, expand, sample_mixture
from lemur.data.records import Document


def _bottom_k(documents: Iterable[Document], k: int, seed: int) -> list[Document]:
    """The ``k`` documents with the smallest seeded hash of their id: a deterministic uniform sample."""

    def key(document: Document) -> bytes:
        return hashlib.blake2b(f"{seed}\0{document.id}".encode(), digest_size=8).digest()

    chosen = sorted(((key(d), i, d) for i, d in enumerate(documents)), key=lambda item: item[:2])[:k]
    return [d for _, _, d in sorted(chosen, key=lambda item: item[1])]


def _shards_itself(source_class: type) -> bool:
    """Whether ``source_class`` takes ``shard`` and ``num_shards`` (it splits its own input)."""
    parameters = inspect.signature(source_class).parameters
    return "shard" in parameters and "num_shards" in parameters


@dataclasses.dataclass(frozen=True)
class SourceShardTask:
    """The executor job of a build: builds the packed shard of one (source, shard) rank.

    Attributes:
        recipe: The validated recipe.
        out: The output directory.
    """

    recipe: Recipe
    out: str

    def documents(self, spec: SourceSpec, shard: int) -> Iterator[Document]:
        """The documents of ``spec`` that belong to ``shard``, tagged with ``metadata["source"]``."""
        from lemur.core.components import Kind
        from lemur.core.plugins import load_component

        source_class = load_component(Kind.DATA_SOURCE, spec.source)
        options = expand(spec.options)
        tasks = self.recipe.tasks_per_source
        # A source that shards itself (by file) reads only its share; any other is read whole
        # and every ``tasks``-th document kept. A recipe that sets shard options keeps them.
        own_shards = tasks > 1 and _shards_itself(source_class) and not {"shard", "num_shards"} & set(options)
        if own_shards:
            options = {**options, "shard": shard, "num_shards": tasks}
        try:
            reader = source_class(**options)
        except TypeError as error:
            raise LemurError(f"recipe source {spec.name!r} ({spec.source}): {error}") from None
        documents = iter(reader) if own_shards else itertools.islice(reader, shard, None, tasks)
        for document in documents:
            document.metadata["source"] = spec.name
            yield document

    def records(self, spec: SourceSpec, shard: int) -> tuple[Iterable[Any], list[Any]]:
        """The records of ``spec``'s ``shard`` after sampling (``instances``) and every recipe step.

        Returns the lazy record stream and the built steps (whose ``stats`` fill as it is consumed).

        Raises:
            LemurError: A step's options are invalid.
        """
        from lemur.core.components import Kind
        from lemur.core.plugins import load_component

        recipe = self.recipe
        records: Iterable[Any] = self.documents(spec, shard)
        if spec.instances is not None:
            records = _bottom_k(records, -(-spec.instances // recipe.tasks_per_source), recipe.seed)
        steps = []
        for step_spec in [*recipe.steps, *spec.steps]:
            step_class = load_component(Kind.DATA_STEP, step_spec.step)
            try:
                steps.append(step_class(**expand(step_spec.options)))
            except TypeError as error:
                raise LemurError(f"recipe step {step_spec.step!r}: {error}") from None
        for step in steps:
            records = step.run(records, shard, recipe.tasks_per_source)
        return records, steps

    def __call__(self, rank: int, world_size: int) -> dict[str, Any]:
        """Build the shard of ``rank`` (skipped if already published) and return its statistics."""
        from lemur.data.executors import track_progress
        from lemur.data.packing import PackStep
        from lemur.data.shards import ShardWriter
        from lemur.data.stats import RANK_STATS_KEY, ConversationTally, token_counter
        from lemur.data.tokenize import TokenizeStep

        recipe = self.recipe
        source_index, shard = divmod(rank, recipe.tasks_per_source)
        spec = recipe.sources[source_index]
        path = Path(self.out) / "sources" / spec.name / f"shard-{shard:05d}"
        if (path / "index.json").is_file():
            return {"source": spec.name, "shard": shard, "reused": True}
        records, steps = self.records(spec, shard)
        tokenize = TokenizeStep(recipe.tokenizer)
        # Table 1's columns of what this rank keeps, for `lemur data stats OUT` (conversations only).
        table1 = ConversationTally(token_counter(tokenize.encoder.tokenizer))
        records = table1.run(records)
        pack = PackStep(recipe.seq_len, recipe.window, sources=[spec.name])
        writer = ShardWriter(
            path,
            recipe.seq_len,
            tokenize.encoder.vocab_size,
            sources=[spec.name],
            metadata={"recipe": recipe.name, "tokenizer": recipe.tokenizer, "seed": recipe.seed, "shard": shard},
        )
        tokenized = track_progress(tokenize.run(records, shard, recipe.tasks_per_source), lambda d: len(d.tokens))
        for batch in pack.run(tokenized, shard, recipe.tasks_per_source):
            writer.write(batch, list(pack.sources))
        index = writer.close()
        result = {
            "source": spec.name,
            "shard": shard,
            "rows": index["rows"],
            "steps": {step.name: dict(step.stats) for step in [*steps, tokenize, pack]},
        }
        if table1.stats.instances:
            result[RANK_STATS_KEY] = table1.stats.as_dict()
        return result


def _check_out_dir(recipe: Recipe, out: Path) -> None:
    resolved = json.dumps(recipe.model_dump(mode="json"), sort_keys=True)
    recorded = out / "recipe.json"
    if recorded.is_file():
        if json.loads(recorded.read_text(encoding="utf-8")) != json.loads(resolved):
            raise LemurError(f"{out} holds a build of a different recipe; use a new --out directory or remove it")
    else:
        out.mkdir(parents=True, exist_ok=True)
        recorded.write_text(resolved, encoding="utf-8")


def build_mixture(recipe: Recipe, out: Path) -> dict[str, Any] | None:
    """Sample the mixture of a weighted recipe into ``<out>/mixture`` (reused when present).

    The mixture has ``total_tokens // seq_len`` rows, or as many rows as all sources together
    when the recipe sets no ``total_tokens``. Returns the mixture index, or None for unweighted
    (SFT) recipes.
    """
    from lemur.data.shards import PackedDataset

    weights = recipe.weights()
    if not weights:
        return None
    folder = out / "mixture"
    if (folder / "index.json").is_file():
        return json.loads((folder / "index.json").read_text(encoding="utf-8"))
    rows = {name: len(PackedDataset(out / "sources" / name)) for name in weights}
    total = recipe.total_tokens // recipe.seq_len if recipe.total_tokens else sum(rows.values())
    table = sample_mixture(rows, weights, max(total, 1), recipe.seed)
    staging = out / "mixture.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    table.astype("<i8").tofile(staging / "rows.bin")
    counts = {name: int((table[:, 0] == i).sum()) for i, name in enumerate(weights)}
    index = {
        "sources": list(weights),
        "weights": weights,
        "seed": recipe.seed,
        "rows": int(len(table)),
        "seq_len": recipe.seq_len,
        "rows_per_source": counts,
        "available_rows": rows,
        "epochs": {name: counts[name] / rows[name] for name in weights if rows[name]},
    }
    (staging / "index.json").write_text(json.dumps(index, indent=1), encoding="utf-8")
    staging.rename(folder)
    return index


def build(
    recipe: Recipe, out: str | Path, executor: str = "local", workers: int | None = None, progress: bool = True
) -> dict[str, Any]:
    """Run the whole build of ``recipe`` into ``out``; resumable; returns the summary.

    Raises:
        LemurError: ``out`` holds another recipe's build, or any step, source or option is invalid.
    """
    from lemur.data.executors import make_executor

    out = Path(out)
    _check_out_dir(recipe, out)
    tasks = len(recipe.sources) * recipe.tasks_per_source
    runner = make_executor(executor, tasks, out / "logs", workers=workers, progress=progress)
    skipped = sorted(rank for rank in runner.completed() if rank < tasks)
    stats = runner.run(SourceShardTask(recipe, str(out)))
    mixture = build_mixture(recipe, out)
    summary = {"recipe": recipe.name, "ranks": stats, "skipped": skipped, "mixture": mixture}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return summary
