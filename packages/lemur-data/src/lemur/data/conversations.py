"""``lemur data build --format conversations``: an SFT recipe's conversations as one JSONL file.

The same sources → sampling (``instances``) → steps as a packed build (:class:`SourceShardTask`),
but instead of tokenizing and packing, every surviving conversation is written as one line
``{"messages": [{"role", "content"}, ...], "source": NAME, "id": ID}``: the format
``lemur train sft`` reads and tokenizes with its chat template (ChatML special tokens, loss on
assistant content and ``<|im_end|>`` only). Output layout::

    <out>/recipe.json                               the resolved recipe (shared with a packed build)
    <out>/logs/conversations/{completions,stats}/   executor markers and per-rank statistics
    <out>/conversations/<source>/shard-<k>.jsonl    one file per (source, shard) rank
    <out>/conversations.jsonl                       all of them, in a permutation seeded by ``seed``
    <out>/conversations-summary.json                per-rank statistics and the total

Every file is published by rename, so an interrupted run leaves no half-written output and a
rerun redoes only unfinished ranks (and the merge, if it had not finished).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from lemur.core.errors import LemurError
from lemur.data.build import SourceShardTask, _check_out_dir, check_build, dedup_executor, global_dedup
from lemur.data.mixture import Recipe

#: File name of the merged conversations inside a build directory.
CONVERSATIONS_FILE = "conversations.jsonl"


def _shard_path(out: Path, source: str, shard: int) -> Path:
    return out / "conversations" / source / f"shard-{shard:05d}.jsonl"


def _is_conversation(messages: Any) -> bool:
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        )
    )


@dataclasses.dataclass(frozen=True)
class ConversationShardTask(SourceShardTask):
    """The executor job of a conversations build: writes the conversations of one (source, shard) rank.

    Documents without a well-formed ``metadata["messages"]`` (plain text) are counted as
    ``not_conversations`` and left out.
    """

    def __call__(self, rank: int, world_size: int) -> dict[str, Any]:
        """Write ``conversations/<source>/shard-<k>.jsonl`` for ``rank`` (skipped if present); returns statistics."""
        recipe = self.recipe
        source_index, shard = divmod(rank, recipe.tasks_per_source)
        spec = recipe.sources[source_index]
        path = _shard_path(Path(self.out), spec.name, shard)
        if path.is_file():
            return {"source": spec.name, "shard": shard, "reused": True}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        records, steps = self.records(spec, shard)
        written = skipped = 0
        with open(partial, "w", encoding="utf-8") as handle:
            for document in records:
                messages = document.metadata.get("messages")
                if not _is_conversation(messages):
                    skipped += 1
                    continue
                messages = [{"role": m["role"], "content": m["content"]} for m in messages]
                line = {"messages": messages, "source": spec.name, "id": document.id}
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                written += 1
        os.replace(partial, path)
        return {
            "source": spec.name,
            "shard": shard,
            "conversations": written,
            "not_conversations": skipped,
            "steps": {step.name: dict(step.stats) for step in steps},
        }


def merge_conversations(recipe: Recipe, out: Path) -> int:
    """Concatenate the rank files into ``<out>/conversations.jsonl`` in a seeded permutation.

    The order is a permutation of all lines (sources in recipe order, shards in order, lines in
    file order) drawn from ``numpy.random.default_rng([seed, 1])``, so the same recipe and data
    always give the same file. Lines are copied by byte offset, so memory holds only offsets.
    An existing merged file is reused.

    Returns:
        The number of conversations in the merged file.
    """
    target = out / CONVERSATIONS_FILE
    if target.is_file():
        with open(target, "rb") as handle:
            return sum(1 for _ in handle)
    files = [_shard_path(out, s.name, k) for s in recipe.sources for k in range(recipe.tasks_per_source)]
    lines: list[tuple[int, int, int]] = []  # (file, offset, length)
    for number, path in enumerate(files):
        offset = 0
        with open(path, "rb") as handle:
            for line in handle:
                lines.append((number, offset, len(line)))
                offset += len(line)
    order = np.random.default_rng([recipe.seed, 1]).permutation(len(lines))
    partial = target.with_name(target.name + ".partial")
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(path, "rb")) for path in files]
        sink = stack.enter_context(open(partial, "wb"))
        for index in order.tolist():
            number, offset, length = lines[index]
            handles[number].seek(offset)
            sink.write(handles[number].read(length))
    os.replace(partial, target)
    return len(lines)


def export_conversations(
    recipe: Recipe, out: str | Path, executor: str = "local", workers: int | None = None, progress: bool = True
) -> dict[str, Any]:
    """Write ``recipe``'s sampled, filtered conversations to ``<out>/conversations.jsonl``; resumable.

    Returns:
        The summary: ``ranks`` (per-rank statistics), ``skipped`` (ranks already done),
        ``conversations`` (lines in the merged file) and ``path``.

    Raises:
        LemurError: ``out`` holds another recipe's build, the recipe is a weighted (pre-training)
            mixture, any step, source or option is invalid, or no conversation is left.
    """
    from lemur.data.executors import make_executor

    if recipe.weights():
        raise LemurError(
            f"recipe {recipe.name!r}: conversations output is for SFT recipes (sources with 'instances' or "
            "all of a source), not weighted pre-training mixtures; remove the weights or build packed shards"
        )
    out = Path(out)
    check_build(recipe, out, workers, tokenizer=False)
    tasks = len(recipe.sources) * recipe.tasks_per_source
    runner = make_executor(executor, tasks, out / "logs" / "conversations", workers=workers, progress=progress)
    keys_runner = dedup_executor(recipe, out, executor, workers, progress)
    _check_out_dir(recipe, out)
    skipped = sorted(rank for rank in runner.completed() if rank < tasks)
    global_dedup(recipe, out, keys_runner, set(skipped))  # dedup steps compare all shards (see lemur.data.build)
    stats = runner.run(ConversationShardTask(recipe, str(out), global_dedup=keys_runner is not None))
    count = merge_conversations(recipe, out)
    if count == 0:
        raise LemurError(
            f"recipe {recipe.name!r}: no conversation in any source (documents need metadata 'messages' "
            "as [{'role', 'content'}, ...]); is this an SFT recipe?"
        )
    summary = {
        "recipe": recipe.name,
        "ranks": stats,
        "skipped": skipped,
        "conversations": count,
        "path": str(out / CONVERSATIONS_FILE),
    }
    (out / "conversations-summary.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return summary
