"""``lemur data stats``: Table 1's columns for conversation data, and a build's realised mixture.

Conversation statistics follow the Lemur paper's Table 1 columns. A conversation is a document
with ``metadata["messages"] = [{"role", "content"}, ...]``; a *round* is one assistant message
together with the non-assistant messages (system, user) since the previous assistant message,
which form its *prompt*. Lengths are in tokens of the recipe's tokenizer (Llama-2 by default),
averaged over rounds.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lemur.core.errors import LemurError
from lemur.data.records import Document


@dataclasses.dataclass
class ConversationStats:
    """Table 1 columns for one set of conversations.

    Attributes:
        instances: Conversations with at least one round.
        rounds: Total rounds.
        prompt_tokens: Total prompt tokens over all rounds.
        completion_tokens: Total completion (assistant) tokens over all rounds.
    """

    instances: int = 0
    rounds: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def average_rounds(self) -> float:
        """Rounds per conversation."""
        return self.rounds / self.instances if self.instances else 0.0

    @property
    def average_prompt_length(self) -> float:
        """Prompt tokens per round."""
        return self.prompt_tokens / self.rounds if self.rounds else 0.0

    @property
    def average_completion_length(self) -> float:
        """Completion tokens per round."""
        return self.completion_tokens / self.rounds if self.rounds else 0.0

    def as_dict(self) -> dict[str, int]:
        """The four totals, JSON-able (as a build records them per rank)."""
        return dataclasses.asdict(self)

    def add(self, other: ConversationStats | dict[str, int]) -> None:
        """Add another set's totals (a :class:`ConversationStats` or its :meth:`as_dict`)."""
        values = other if isinstance(other, dict) else other.as_dict()
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + int(values.get(field.name, 0)))

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class ConversationTally:
    """Counts :class:`ConversationStats` of conversations as they stream past.

    Args:
        count_tokens: ``f(list[str]) -> list[int]``, token counts without BOS/EOS.
        batch_size: Conversations per call of ``count_tokens``.
    """

    def __init__(self, count_tokens: Any, batch_size: int = 256):
        self.count_tokens = count_tokens
        self.batch_size = batch_size
        self.stats = ConversationStats()
        self._batch: list[list[dict[str, str]]] = []

    def add(self, document: Document) -> None:
        """Count ``document`` if it is a conversation (a non-empty ``metadata["messages"]`` list)."""
        messages = document.metadata.get("messages")
        if isinstance(messages, list) and messages:
            self._batch.append(messages)
            if len(self._batch) >= self.batch_size:
                self.flush()

    def flush(self) -> ConversationStats:
        """Count the buffered conversations; returns the totals so far."""
        batch, self._batch = self._batch, []
        texts = [m["content"] for conversation in batch for m in conversation]
        lengths = iter(self.count_tokens(texts)) if texts else iter(())
        stats = self.stats
        for conversation in batch:
            prompt, rounds = 0, 0
            for message in conversation:
                length = next(lengths)
                if message["role"] == "assistant":
                    rounds += 1
                    stats.prompt_tokens += prompt
                    stats.completion_tokens += length
                    prompt = 0
                else:
                    prompt += length
            if rounds:
                stats.instances += 1
                stats.rounds += rounds
        return stats

    def run(self, documents: Iterable[Document]) -> Iterator[Document]:
        """Yield ``documents`` unchanged, counting the conversations among them (totals final at the end)."""
        for document in documents:
            self.add(document)
            yield document
        self.flush()


def conversation_stats(documents: Iterable[Document], count_tokens: Any, batch_size: int = 256) -> ConversationStats:
    """Compute :class:`ConversationStats` over the conversations among ``documents``.

    Args:
        documents: Documents; those without a ``messages`` list are ignored.
        count_tokens: ``f(list[str]) -> list[int]``, token counts without BOS/EOS.
        batch_size: Conversations per call of ``count_tokens``.
    """
    tally = ConversationTally(count_tokens, batch_size)
    for document in documents:
        tally.add(document)
    return tally.flush()


def token_counter(tokenizer: Any) -> Any:
    """A ``count_tokens`` function for :func:`conversation_stats` from anything ``load_tokenizer`` takes."""
    from lemur.data.tokenize import load_tokenizer

    loaded = load_tokenizer(tokenizer)
    encode = getattr(loaded, "encode_batch_fast", loaded.encode_batch)

    def count(texts: list[str]) -> list[int]:
        return [len(e.ids) for e in encode(texts, add_special_tokens=False)]

    return count


#: Key of a packed build's per-rank statistics that holds the rank's :meth:`ConversationStats.as_dict`.
RANK_STATS_KEY = "conversation_stats"

#: Header of :func:`sft_table`.
SFT_HEADER = [
    "source",
    "recipe instances",
    "instances",
    "avg rounds",
    "avg prompt len",
    "avg completion len",
    "instances %",
    "tokens %",
]


def recipe_conversation_stats(
    recipe: Any, realised: bool = False, limit: int | None = None, workers: int | None = None
) -> dict[str, ConversationStats]:
    """:class:`ConversationStats` per source of ``recipe``, of the raw sources or of what a build keeps.

    Args:
        recipe: A :class:`lemur.data.mixture.Recipe`.
        realised: False: every document of the raw source (before ``instances`` sampling and
            steps). True: what ``lemur data build --format conversations`` keeps after sampling
            and every step: that build is run into a temporary directory and counted.
        limit: Raw mode only: read at most this many documents per source.
        workers: Realised mode: parallel shards of the build (default: CPU count).

    Raises:
        LemurError: ``limit`` is given with ``realised``, or a source or step is invalid.
    """
    import itertools
    import tempfile

    from lemur.data.build import SourceShardTask

    if realised and limit is not None:
        raise LemurError("--limit reads part of the raw source, so it cannot be combined with --realised")
    if realised:
        from lemur.data.conversations import export_conversations

        with tempfile.TemporaryDirectory(prefix="lemur-stats-") as folder:
            export_conversations(recipe, folder, workers=workers, progress=False)
            (_, _, stats, _) = build_conversation_stats(folder)[-1]
        return stats
    count = token_counter(recipe.tokenizer)
    task = SourceShardTask(recipe.model_copy(update={"tasks_per_source": 1}), "")
    return {
        spec.name: conversation_stats(itertools.islice(task.documents(spec, 0), limit), count)
        for spec in recipe.sources
    }


def build_conversation_stats(out: str | Path) -> list[tuple[str, Any, dict[str, ConversationStats], dict[str, int]]]:
    """Per-source :class:`ConversationStats` and token counts of an unweighted (SFT) build.

    Returns one ``(layout, recipe, stats by source, tokens by source)`` per layout found in
    ``out``: ``"packed"`` (figures recorded by each rank while building; tokens are the packed
    tokens, chat template and BOS/EOS included) and ``"conversations"`` (counted here from
    ``conversations.jsonl`` with the recipe's tokenizer; tokens are prompt plus completion tokens).

    Raises:
        LemurError: ``out`` holds neither layout, or a packed rank did not record its figures.
    """
    from lemur.data.conversations import CONVERSATIONS_FILE
    from lemur.data.mixture import Recipe
    from lemur.data.shards import PackedDataset

    out = Path(out)
    recipe = Recipe.model_validate(json.loads((out / "recipe.json").read_text(encoding="utf-8")))
    names = [spec.name for spec in recipe.sources]
    found = []
    if (out / "sources").is_dir() and any((out / "sources").rglob("index.json")):
        stats = {name: ConversationStats() for name in names}
        for path in sorted((out / "logs" / "stats").glob("*.json")):
            rank = json.loads(path.read_text(encoding="utf-8"))
            if rank.get("source") not in stats:
                continue
            if RANK_STATS_KEY not in rank:
                raise LemurError(
                    f"{path}: this rank recorded no conversation statistics (built by an older Lemur, or its shard "
                    f"was reused); count them with `lemur data stats RECIPE.yaml --realised` instead"
                )
            stats[rank["source"]].add(rank[RANK_STATS_KEY])
        tokens = {}
        for name in names:
            folder = out / "sources" / name
            tokens[name] = sum(PackedDataset(folder).tokens_per_source().values()) if folder.is_dir() else 0
        found.append(("packed", recipe, stats, tokens))
    merged = out / CONVERSATIONS_FILE
    if merged.is_file():
        count = token_counter(recipe.tokenizer)
        tallies = {name: ConversationTally(count) for name in names}
        with open(merged, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                tally = tallies.get(record.get("source"))
                if tally is not None:
                    tally.add(Document(str(record.get("id", "")), "", {"messages": record["messages"]}))
        stats = {name: tally.flush() for name, tally in tallies.items()}
        found.append(("conversations", recipe, stats, {name: s.tokens for name, s in stats.items()}))
    if not found:
        raise LemurError(
            f"{out}: no built shards (sources/) or conversations ({CONVERSATIONS_FILE}) yet; "
            "run `lemur data build` (optionally with --format conversations) first"
        )
    return found


def sft_table(recipe: Any, stats: dict[str, ConversationStats], tokens: dict[str, int]) -> list[list[Any]]:
    """Rows under :data:`SFT_HEADER`: per source the measured Table 1 columns and shares of instances
    and tokens, then, where the recipe gives them, the paper's figures (``paper:``) with the shares
    they imply (tokens = instances x rounds x (prompt + completion length))."""
    total_instances = sum(s.instances for s in stats.values()) or 1
    total_tokens = sum(tokens.values()) or 1
    papers = {spec.name: spec.paper for spec in recipe.sources if spec.paper}
    paper_instances = {name: p["instances"] for name, p in papers.items() if "instances" in p}
    figures = ("instances", "rounds", "prompt_len", "completion_len")
    paper_tokens = {
        name: p["instances"] * p["rounds"] * (p["prompt_len"] + p["completion_len"])
        for name, p in papers.items()
        if all(key in p for key in figures)
    }
    rows: list[list[Any]] = []
    for spec in recipe.sources:
        measured = stats[spec.name]
        rows.append(
            [
                spec.name,
                spec.instances if spec.instances is not None else "all",
                measured.instances,
                measured.average_rounds,
                measured.average_prompt_length,
                measured.average_completion_length,
                100 * measured.instances / total_instances,
                100 * tokens.get(spec.name, 0) / total_tokens,
            ]
        )
        if spec.paper:
            published: list[Any] = [spec.paper.get(key, "-") for key in figures]
            if isinstance(published[0], float) and published[0].is_integer():
                published[0] = int(published[0])
            share = (
                100 * paper_instances[spec.name] / sum(paper_instances.values())
                if spec.name in paper_instances
                else "-"
            )
            token_share = (
                100 * paper_tokens[spec.name] / sum(paper_tokens.values()) if spec.name in paper_tokens else "-"
            )
            rows.append([f"  {spec.name} (paper)", "-", *published, share, token_share])
    return rows


def mixture_report(out: str | Path) -> list[dict[str, Any]]:
    """Per source of a built mixture: recipe weight, realised row and token shares, epochs.

    Raises:
        LemurError: ``out`` holds no built mixture.
    """
    from lemur.data.mixture import MixtureDataset

    out = Path(out)
    mixture = MixtureDataset(out)
    index = mixture.index
    recipe = json.loads((out / "recipe.json").read_text(encoding="utf-8"))
    paper_epochs = {s["name"]: s.get("epochs") for s in recipe["sources"]}
    groups = {s["name"]: s.get("group", "") for s in recipe["sources"]}
    tokens: dict[str, int] = {}
    for i, name in enumerate(mixture.sources):
        dataset = mixture.datasets[i]
        per_row = sum(dataset.tokens_per_source().values()) / max(len(dataset), 1)
        tokens[name] = int(round(per_row * index["rows_per_source"][name]))
    total_tokens = sum(tokens.values()) or 1
    return [
        {
            "source": name,
            "group": groups.get(name, ""),
            "weight": 100 * index["weights"][name],
            "rows": index["rows_per_source"][name],
            "row_share": 100 * index["rows_per_source"][name] / index["rows"],
            "token_share": 100 * tokens[name] / total_tokens,
            "epochs": index["epochs"].get(name, 0.0),
            "recipe_epochs": paper_epochs.get(name),
        }
        for name in mixture.sources
    ]


def format_table(header: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table with right-aligned numbers."""
    cells = [
        [f"{c:,.2f}" if isinstance(c, float) else (f"{c:,}" if isinstance(c, int) else str(c)) for c in row]
        for row in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = [
        "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True)))
    ]
    for row in cells:
        lines.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    return "\n".join(lines)


def check_target(target: Path) -> str:
    """Whether ``target`` is a build directory (``"build"``) or a recipe file (``"recipe"``).

    Raises:
        LemurError: It is neither.
    """
    if target.is_dir() and (target / "recipe.json").is_file():
        return "build"
    if target.is_file() and target.suffix in (".yaml", ".yml"):
        return "recipe"
    raise LemurError(f"{target}: expected a build directory (from `lemur data build`) or a recipe .yaml file")
