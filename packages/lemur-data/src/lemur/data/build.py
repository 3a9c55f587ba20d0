"""``lemur data build``: a recipe's sources → steps → tokenize → pack → shards → mixture.

Output directory layout::

    <out>/recipe.json                      the resolved recipe (a rerun must use the same one)
    <out>/logs/completions/<rank>          executor completion markers (one rank = one source shard)
    <out>/logs/stats/<rank>.json           per-rank statistics (every step's counters)
    <out>/logs/dedup/{completions,stats}/  the same for stage 1 of global dedup
    <out>/dedup/keys/<rank>.npz            stage 1: each dedup step's keys of the rank's documents
    <out>/dedup/drop/<rank>.npz            stage 2: each dedup step's dropped ordinals of the rank
    <out>/dedup/drop/done.json             stage 2 finished: documents dropped per step
    <out>/sources/<name>/shard-<k>/        packed, memory-mapped shards (see lemur.data.shards)
    <out>/mixture/{rows.bin,index.json}    the sampled mixture (weighted recipes only)
    <out>/summary.json                     totals, realised mixture, versions

Rank ``r`` builds shard ``r % tasks_per_source`` of source ``r // tasks_per_source``. A source
that takes ``shard``/``num_shards`` (the url-list, RedPajama and DM Mathematics sources split
by file) is opened with them, so a rank fetches only its own files; any other source is read
whole and the shard keeps the documents whose ordinal ``i`` has ``i % tasks_per_source == shard``.
Reruns skip finished ranks (see :mod:`lemur.data.executors`) and an existing mixture.

Dedup steps (:class:`~lemur.data.steps.base.DedupStep`: exact, MinHash and semantic dedup)
compare every document with every other, not only those of one shard, in three stages:

1. Per rank (executor job :class:`DedupKeysTask`): the rank's documents go through the steps,
   with each dedup step passing everything on and recording the keys (digests, signatures,
   embeddings) and ordinals of the documents that reach it. Ordinals number the rank's
   documents after sampling (``instances``). Saved to ``dedup/keys/<rank>.npz``.
2. Once, after every rank of stage 1 (:func:`cluster_duplicates`): dedup steps in pipeline
   order, each over the documents that reach it and survived the dedup steps before it. A
   recipe-level step (``steps``) compares all sources together, a source's own step only
   that source's shards. Each duplicate group keeps its first member in (source order,
   shard, ordinal) order. Saved to ``dedup/drop/<rank>.npz``, then ``done.json``.
3. Per rank (:class:`SourceShardTask`): the documents go through the steps again, each
   dedup step dropping exactly its listed ordinals, then on to tokenizing and packing.

Every file is published by rename; a finished stage-1 rank or stage 2 is never redone.
Before anything is written, :func:`check_build` builds every source, step and the tokenizer
from the recipe, so a bad recipe leaves ``--out`` untouched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import inspect
import itertools
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lemur.core.errors import LemurError
from lemur.data.mixture import Recipe, SourceSpec, StepSpec, expand, sample_mixture
from lemur.data.records import Document
from lemur.data.steps.base import DedupStep, PipelineStep

#: Metadata key holding a document's ordinal in its rank while the steps run (removed after).
_ORDINAL = "_lemur_ordinal"


def _bottom_k(documents: Iterable[Document], k: int, seed: int) -> list[Document]:
    """The ``k`` documents with the smallest seeded hash of their id, in input order: a deterministic uniform sample.

    Ties in the hash go to the earlier document. Memory: ``k`` documents (a bounded heap).
    """

    def key(document: Document) -> int:
        return int.from_bytes(hashlib.blake2b(f"{seed}\0{document.id}".encode(), digest_size=8).digest(), "big")

    # A min-heap on (-hash, -position) keeps the k smallest (hash, position) pairs; its top is the largest.
    heap: list[tuple[int, int, Document]] = []
    for position, document in enumerate(documents):
        item = (-key(document), -position, document)
        if len(heap) < k:
            heapq.heappush(heap, item)
        elif item[:2] > heap[0][:2]:
            heapq.heapreplace(heap, item)
    return [document for _, _, document in sorted(heap, key=lambda item: -item[1])]


def _shards_itself(source_class: type) -> bool:
    """Whether ``source_class`` takes ``shard`` and ``num_shards`` (it splits its own input)."""
    parameters = inspect.signature(source_class).parameters
    return "shard" in parameters and "num_shards" in parameters


def _build_steps(specs: list[StepSpec]) -> list[PipelineStep]:
    """The recipe's steps, built with their options.

    Raises:
        LemurError: An unknown step or an option it does not take.
    """
    from lemur.core.components import Kind
    from lemur.core.plugins import load_component

    steps = []
    for step_spec in specs:
        step_class = load_component(Kind.DATA_STEP, step_spec.step)
        try:
            steps.append(step_class(**expand(step_spec.options)))
        except TypeError as error:
            raise LemurError(f"recipe step {step_spec.step!r}: {error}") from None
    return steps


def _has_dedup(recipe: Recipe) -> bool:
    """Whether any recipe or source step is a :class:`DedupStep` (so the build dedups globally)."""
    from lemur.core.components import Kind
    from lemur.core.plugins import load_component

    specs = [*recipe.steps, *(step for source in recipe.sources for step in source.steps)]
    classes = [load_component(Kind.DATA_STEP, spec.step) for spec in specs]
    return any(isinstance(cls, type) and issubclass(cls, DedupStep) for cls in classes)


def _tag(records: Iterable[Document], counter: list[int]) -> Iterator[Document]:
    """Number ``records`` in ``metadata[_ORDINAL]``; ``counter[0]`` ends as their count."""
    for ordinal, record in enumerate(records):
        record.metadata[_ORDINAL] = ordinal
        counter[0] = ordinal + 1
        yield record


def _untag(records: Iterable[Any]) -> Iterator[Any]:
    for record in records:
        record.metadata.pop(_ORDINAL, None)
        yield record


class _KeyRecorder(PipelineStep):
    """Stage 1 stand-in for a dedup step: passes every record on and records its ordinal and keys."""

    def __init__(self, step: DedupStep, batch_size: int = 1024) -> None:
        super().__init__()
        self.step = step
        self.name = step.name
        self.batch_size = batch_size
        self.ordinals: list[int] = []
        self.parts: list[np.ndarray] = []

    def run(self, records: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        texts: list[str] = []
        for record in records:
            self.ordinals.append(record.metadata[_ORDINAL])
            texts.append(record.text)
            if len(texts) >= self.batch_size:
                self.parts.append(self.step.keys(texts))
                texts = []
            self.stats["documents"] += 1
            yield record
        if texts:
            self.parts.append(self.step.keys(texts))

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        keys = np.concatenate(self.parts) if self.parts else np.empty((0, 0), dtype=np.uint8)
        return np.asarray(self.ordinals, dtype=np.int64), keys


class _ListedDrops(PipelineStep):
    """Stage 3 stand-in for a dedup step: drops the records whose ordinal stage 2 listed."""

    def __init__(self, step: DedupStep, drop: np.ndarray) -> None:
        super().__init__()
        self.name = step.name
        self.reason = step.drop_reason
        self.drop = set(drop.tolist())
        self.stats.update({"kept": 0, "dropped": 0})

    def run(self, records: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        for record in records:
            if record.metadata[_ORDINAL] in self.drop:
                self.stats["dropped"] += 1
                self.stats[f"dropped_{self.reason}"] += 1
                continue
            self.stats["kept"] += 1
            yield record


def _rank_file(out: str | Path, stage: str, rank: int) -> Path:
    return Path(out) / "dedup" / stage / f"{rank:05d}.npz"


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(partial, path)


@dataclasses.dataclass(frozen=True)
class SourceShardTask:
    """The executor job of a build: builds the packed shard of one (source, shard) rank.

    Attributes:
        recipe: The validated recipe.
        out: The output directory.
        global_dedup: Dedup steps drop what stage 2 of the global dedup listed in ``out``
            (see the module docstring) instead of deduplicating the shard on its own.
    """

    recipe: Recipe
    out: str
    global_dedup: bool = False

    def open_source(self, spec: SourceSpec, shard: int) -> tuple[Any, bool]:
        """The reader of ``spec`` for ``shard`` and whether it reads only that shard (it shards itself).

        Raises:
            LemurError: An unknown source or an option it does not take.
        """
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
            return source_class(**options), own_shards
        except TypeError as error:
            raise LemurError(f"recipe source {spec.name!r} ({spec.source}): {error}") from None

    def documents(self, spec: SourceSpec, shard: int) -> Iterator[Document]:
        """The documents of ``spec`` that belong to ``shard``, tagged with ``metadata["source"]``."""
        reader, own_shards = self.open_source(spec, shard)
        tasks = self.recipe.tasks_per_source
        documents = iter(reader) if own_shards else itertools.islice(reader, shard, None, tasks)
        for document in documents:
            document.metadata["source"] = spec.name
            yield document

    def sampled(self, spec: SourceSpec, shard: int) -> Iterable[Document]:
        """The documents of ``spec``'s ``shard`` after sampling (``instances``), before any step."""
        records: Iterable[Document] = self.documents(spec, shard)
        if spec.instances is not None:
            records = _bottom_k(records, -(-spec.instances // self.recipe.tasks_per_source), self.recipe.seed)
        return records

    def records(self, spec: SourceSpec, shard: int) -> tuple[Iterable[Any], list[Any]]:
        """The records of ``spec``'s ``shard`` after sampling (``instances``) and every recipe step.

        Returns the lazy record stream and the built steps (whose ``stats`` fill as it is consumed).

        Raises:
            LemurError: A step's options are invalid, or (``global_dedup``) stage 2 has not run.
        """
        recipe = self.recipe
        records: Iterable[Any] = self.sampled(spec, shard)
        steps = _build_steps([*recipe.steps, *spec.steps])
        if self.global_dedup and any(isinstance(step, DedupStep) for step in steps):
            rank = recipe.sources.index(spec) * recipe.tasks_per_source + shard
            path = _rank_file(self.out, "drop", rank)
            if not path.is_file():
                raise LemurError(f"global dedup: no drop list for rank {rank} at {path}; run stages 1 and 2 first")
            with np.load(path) as lists:
                drops = {int(name.split("_")[1]): lists[name] for name in lists.files}
            steps = [_ListedDrops(s, drops[i]) if isinstance(s, DedupStep) else s for i, s in enumerate(steps)]
            records = _tag(records, [0])
            for step in steps:
                records = step.run(records, shard, recipe.tasks_per_source)
            return _untag(records), steps
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


@dataclasses.dataclass(frozen=True)
class DedupKeysTask(SourceShardTask):
    """Stage 1 of the global dedup, one (source, shard) rank: each dedup step's keys of its documents.

    Writes ``<out>/dedup/keys/<rank>.npz`` with ``ordinals_<i>`` and ``keys_<i>`` for the dedup
    step at position ``i`` of the source's steps (recipe steps first), and ``documents`` (the
    rank's count after sampling). An existing file is reused.
    """

    def __call__(self, rank: int, world_size: int) -> dict[str, Any]:
        recipe = self.recipe
        source_index, shard = divmod(rank, recipe.tasks_per_source)
        spec = recipe.sources[source_index]
        target = _rank_file(self.out, "keys", rank)
        if target.is_file():
            return {"source": spec.name, "shard": shard, "reused": True}
        counter = [0]
        records: Iterable[Any] = _tag(self.sampled(spec, shard), counter)
        steps = _build_steps([*recipe.steps, *spec.steps])
        recorders: dict[int, _KeyRecorder] = {}
        for position, step in enumerate(steps):
            if isinstance(step, DedupStep):
                step = recorders[position] = _KeyRecorder(step)
            records = step.run(records, shard, recipe.tasks_per_source)
        for _ in records:
            pass
        arrays = {"documents": np.asarray(counter[0], dtype=np.int64)}
        for position, recorder in recorders.items():
            arrays[f"ordinals_{position}"], arrays[f"keys_{position}"] = recorder.result()
        _save_npz(target, arrays)
        return {
            "source": spec.name,
            "shard": shard,
            "documents": counter[0],
            "keyed": {f"{i}:{r.name}": int(r.stats["documents"]) for i, r in recorders.items()},
        }


def cluster_duplicates(recipe: Recipe, out: str | Path) -> dict[str, Any]:
    """Stage 2 of the global dedup: which documents of every rank each dedup step drops.

    Reads every ``dedup/keys/<rank>.npz``, writes ``dedup/drop/<rank>.npz`` (``drop_<i>``: the
    ordinals the dedup step at position ``i`` drops) and then ``dedup/drop/done.json``, which
    a rerun reuses. Memory: the keys of every document a step compares, at once.

    Returns:
        ``{"<source or *>:<position>:<step>": {"compared": n, "dropped": m}, ...}``.

    Raises:
        LemurError: A rank's stage 1 output is missing.
    """
    out = Path(out)
    marker = out / "dedup" / "drop" / "done.json"
    if marker.is_file():
        return json.loads(marker.read_text(encoding="utf-8"))
    tasks = recipe.tasks_per_source
    ranks = range(len(recipe.sources) * tasks)
    keys = {}
    for rank in ranks:
        path = _rank_file(out, "keys", rank)
        if not path.is_file():
            raise LemurError(f"global dedup: rank {rank} has no keys at {path}; run stage 1 for every rank first")
        with np.load(path) as arrays:
            keys[rank] = {name: arrays[name] for name in arrays.files}
    # (position, scope, ranks compared together, step), in pipeline order: recipe steps span all sources.
    groups: list[tuple[int, str, list[int], DedupStep]] = []
    for position, step in enumerate(_build_steps(recipe.steps)):
        if isinstance(step, DedupStep):
            groups.append((position, "*", list(ranks), step))
    for index, spec in enumerate(recipe.sources):
        for offset, step in enumerate(_build_steps(spec.steps)):
            if isinstance(step, DedupStep):
                position = len(recipe.steps) + offset
                groups.append((position, spec.name, list(range(index * tasks, (index + 1) * tasks)), step))
    gone = {rank: np.empty(0, dtype=np.int64) for rank in ranks}
    drops: dict[int, dict[str, np.ndarray]] = {rank: {} for rank in ranks}
    report: dict[str, Any] = {}
    for position, scope, members, step in groups:
        alive, parts = {}, []
        for rank in members:
            ordinals = keys[rank][f"ordinals_{position}"]
            mask = ~np.isin(ordinals, gone[rank])
            alive[rank] = ordinals[mask]
            if mask.any():
                parts.append(keys[rank][f"keys_{position}"][mask])
        rows = step.duplicate_rows(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
        start = 0
        for rank in members:
            size = len(alive[rank])
            local = rows[(rows >= start) & (rows < start + size)] - start
            dropped = alive[rank][local]
            drops[rank][f"drop_{position}"] = dropped
            gone[rank] = np.union1d(gone[rank], dropped)
            start += size
        report[f"{scope}:{position}:{step.name}"] = {"compared": int(start), "dropped": int(len(rows))}
    for rank in ranks:
        _save_npz(_rank_file(out, "drop", rank), drops[rank])
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(json.dumps(report, indent=1), encoding="utf-8")
    os.replace(partial, marker)
    return report


def global_dedup(recipe: Recipe, out: str | Path, runner: Any, done: set[int] = frozenset()) -> dict[str, Any] | None:
    """Stages 1 and 2 of the global dedup (see the module docstring), resumably.

    Args:
        recipe: The recipe.
        out: The build directory.
        runner: The executor for stage 1 (``tasks`` = the recipe's ranks, logging under
            ``<out>/logs/dedup``), or None when the recipe has no dedup step.
        done: Ranks whose final output is already published; when that is all of them,
            nothing is run.

    Returns:
        Stage 2's report, or None when nothing was run.
    """
    marker = Path(out) / "dedup" / "drop" / "done.json"
    if runner is None or (len(done) >= runner.tasks and not marker.is_file()):
        return None
    if not marker.is_file():
        runner.run(DedupKeysTask(recipe, str(out)))
    return cluster_duplicates(recipe, out)


def check_build(recipe: Recipe, out: str | Path, workers: int | None = None, tokenizer: bool = True) -> None:
    """Check everything a build needs before anything is written: ``out``, ``workers``, every
    source and step with its options (built, without reading data) and the tokenizer.

    Raises:
        LemurError: One line naming what is wrong.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LemurError(f"--out {str(out)!r} is an existing file; give a directory (new, or a build to resume)")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise LemurError(f"--workers must be a whole number of at least 1, got {workers!r}")
    task = SourceShardTask(recipe, str(out))
    for spec in recipe.sources:
        task.open_source(spec, 0)
        _build_steps(spec.steps)
    _build_steps(recipe.steps)
    if tokenizer:
        from lemur.data.tokenize import TokenizeStep

        TokenizeStep(recipe.tokenizer)


def _has_finished_work(out: Path) -> bool:
    """Whether ``out`` holds any published output (a completed rank, dedup keys, a mixture, a summary)."""
    published = [*out.glob("logs/**/completions/*"), *out.glob("dedup/*/*.npz"), *out.glob("dedup/drop/done.json")]
    return bool(published) or any((out / name).exists() for name in ("mixture", "summary.json", "conversations.jsonl"))


def _check_out_dir(recipe: Recipe, out: Path) -> None:
    resolved = json.dumps(recipe.model_dump(mode="json"), sort_keys=True)
    recorded = out / "recipe.json"
    if out.exists() and not out.is_dir():
        raise LemurError(f"--out {str(out)!r} is an existing file; give a directory (new, or a build to resume)")
    if recorded.is_file():
        if json.loads(recorded.read_text(encoding="utf-8")) != json.loads(resolved):
            hint = "it holds finished work" if _has_finished_work(out) else "nothing in it is finished"
            raise LemurError(
                f"{out} holds a build of a different recipe ({hint}); use a new --out directory or remove it"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "dedup", ignore_errors=True)
    partial = recorded.with_name(recorded.name + ".partial")
    partial.write_text(resolved, encoding="utf-8")
    os.replace(partial, recorded)


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


def dedup_executor(recipe: Recipe, out: Path, executor: str, workers: int | None, progress: bool) -> Any:
    """The executor of stage 1 of the global dedup (logging under ``<out>/logs/dedup``), or None without dedup steps."""
    from lemur.data.executors import make_executor

    if not _has_dedup(recipe):
        return None
    tasks = len(recipe.sources) * recipe.tasks_per_source
    return make_executor(executor, tasks, out / "logs" / "dedup", workers=workers, progress=progress)


def build(
    recipe: Recipe, out: str | Path, executor: str = "local", workers: int | None = None, progress: bool = True
) -> dict[str, Any]:
    """Run the whole build of ``recipe`` into ``out``; resumable; returns the summary.

    Raises:
        LemurError: ``out`` holds another recipe's build, or any step, source, option, the
            tokenizer or ``workers`` is invalid (then nothing is written).
    """
    from lemur.data.executors import make_executor

    out = Path(out)
    check_build(recipe, out, workers)
    tasks = len(recipe.sources) * recipe.tasks_per_source
    runner = make_executor(executor, tasks, out / "logs", workers=workers, progress=progress)
    keys_runner = dedup_executor(recipe, out, executor, workers, progress)
    _check_out_dir(recipe, out)
    skipped = sorted(rank for rank in runner.completed() if rank < tasks)
    dedup = global_dedup(recipe, out, keys_runner, set(skipped))
    stats = runner.run(SourceShardTask(recipe, str(out), global_dedup=keys_runner is not None))
    mixture = build_mixture(recipe, out)
    summary = {"recipe": recipe.name, "ranks": stats, "skipped": skipped, "dedup": dedup, "mixture": mixture}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return summary
