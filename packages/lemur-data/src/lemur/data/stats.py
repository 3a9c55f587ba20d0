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
from collections.abc import Iterable
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


def conversation_stats(documents: Iterable[Document], count_tokens: Any, batch_size: int = 256) -> ConversationStats:
    """Compute :class:`ConversationStats` over the conversations among ``documents``.

    Args:
        documents: Documents; those without a ``messages`` list are ignored.
        count_tokens: ``f(list[str]) -> list[int]``, token counts without BOS/EOS.
        batch_size: Conversations per call of ``count_tokens``.
    """
    stats = ConversationStats()
    batch: list[list[dict[str, str]]] = []

    def flush() -> None:
        texts = [m["content"] for conversation in batch for m in conversation]
        lengths = iter(count_tokens(texts)) if texts else iter(())
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
        batch.clear()

    for document in documents:
        messages = document.metadata.get("messages")
        if isinstance(messages, list) and messages:
            batch.append(messages)
            if len(batch) >= batch_size:
                flush()
    flush()
    return stats


def token_counter(tokenizer: Any) -> Any:
    """A ``count_tokens`` function for :func:`conversation_stats` from anything ``load_tokenizer`` takes."""
    from lemur.data.tokenize import load_tokenizer

    loaded = load_tokenizer(tokenizer)
    encode = getattr(loaded, "encode_batch_fast", loaded.encode_batch)

    def count(texts: list[str]) -> list[int]:
        return [len(e.ids) for e in encode(texts, add_special_tokens=False)]

    return count


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
