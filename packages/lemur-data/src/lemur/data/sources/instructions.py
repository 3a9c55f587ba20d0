"""The four instruction sets of Lemur-Chat's SFT mixture (paper Table 1), as conversation sources.

Every source yields conversation records (:mod:`lemur.data.sources.conversation`). Each reads
local files in the dataset's published schema (``paths=...``) or the hub dataset at a pinned
``revision``. OASST1 and ShareGPT have default revisions (:data:`OASST1_REVISION`, the commit HELM's
OpenAssistant scenario pins; :data:`SHAREGPT_REVISION`, the commit two independent projects pin);
for OpenOrca and Evol-CodeAlpaca no commit could be verified, so loading them from the hub without
``revision=...`` raises "pin a revision with ...".

- **OASST1** (``OpenAssistant/oasst1``): flat messages forming trees (``message_id``,
  ``parent_id``, ``role`` prompter/assistant, ``rank``). ``paths="best"`` (default) follows the
  best-ranked reply (``rank`` 0) from each root to a leaf: one conversation per tree, the
  reply humans preferred, and no prompt repeated across instances (all-paths would repeat
  each shared prefix in many instances, which semantic dedup would mostly undo).
  ``paths="all"`` yields every distinct root-to-leaf path instead.
- **OpenOrca** (``Open-Orca/OpenOrca``, file ``1M-GPT4-Augmented.parquet``): ``system_prompt``,
  ``question``, ``response``; ``sample`` rows (200,000 in Lemur-Chat) drawn uniformly by
  reservoir sampling with ``seed``, yielded in file order.
- **ShareGPT / Chatlogs**: ``id``, ``conversations: [{from, value}]``; roles human/user ->
  user, gpt/chatgpt/bing/bard/assistant -> assistant, system -> system; conversations with
  other roles are skipped (counted in :attr:`skipped`).
- **Evol-CodeAlpaca** (``theblackcat102/evol-codealpaca-v1``): ``instruction``, ``output``.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from lemur.core.errors import ConfigError, LemurError
from lemur.data.records import Document
from lemur.data.sources.base import DataSource
from lemur.data.sources.conversation import make_conversation, tidy
from lemur.data.sources.rows import check_rows_source, rows_from

Paths = str | Path | list[str | Path] | None

#: ``OpenAssistant/oasst1`` commit pinned by stanford-crfm/helm's OpenAssistant scenario.
OASST1_REVISION = "fdf72ae0827c1cda404aff25b6603abec9e3399b"

#: ``anon8231489123/ShareGPT_Vicuna_unfiltered`` commit pinned by Infer-Lab/InferLab (its ShareGPT
#: benchmark source downloads ``ShareGPT_V3_unfiltered_cleaned_split.json`` from ``resolve/<this sha>/``
#: and checks its SHA-256) and by MeetKai/functionary (its README's v0.2 training data links the
#: ``..._no_imsorry.json`` file of this commit).
SHAREGPT_REVISION = "bcd32a724d8460ebe14e1d05b0195e30e9a46cb1"


class OASST1Source(DataSource):
    """OpenAssistant Conversations 1 message trees turned into conversations.

    Deleted messages and messages that failed review (``review_result`` false) are left out,
    with their sub-trees. Records carry ``metadata["tree_id"]`` and ``metadata["language"]``
    (the root's ``lang``).

    Args:
        paths: Local message files (``.parquet``, ``.jsonl[.gz]``, ``.json``); default: the hub.
        mode: ``best`` (best-ranked path per tree) or ``all`` (every root-to-leaf path).
        languages: Keep only trees whose root ``lang`` is one of these (default: all).
        revision: Hub revision when reading ``OpenAssistant/oasst1`` (default :data:`OASST1_REVISION`).
        split: Hub split.

    Raises:
        ConfigError: Unknown ``mode``.
    """

    name = "oasst1"

    def __init__(
        self,
        paths: Paths = None,
        mode: Literal["best", "all"] = "best",
        languages: list[str] | str | None = None,
        revision: str | None = OASST1_REVISION,
        split: str = "train",
    ) -> None:
        if mode not in ("best", "all"):
            raise ConfigError(f"oasst1 source: mode={mode!r} is not one of best, all")
        self.paths, self.mode, self.revision, self.split = paths, mode, revision, split
        self.languages = frozenset([languages] if isinstance(languages, str) else languages or ())

    def __iter__(self) -> Iterator[Document]:
        messages: dict[str, dict[str, Any]] = {}
        children: dict[str | None, list[str]] = collections.defaultdict(list)
        for row in rows_from(self.paths, "OpenAssistant/oasst1", self.revision, split=self.split):
            if row.get("deleted") or row.get("review_result") is False:
                continue
            messages[row["message_id"]] = row
            children[row.get("parent_id")].append(row["message_id"])
        for root_id in children[None]:
            root = messages[root_id]
            if self.languages and root.get("lang") not in self.languages:
                continue
            paths = [self._best_path(root_id, children, messages)] if self.mode == "best" else []
            if self.mode == "all":
                paths = self._all_paths(root_id, children)
            seen: set[tuple[str, ...]] = set()
            for path in paths:
                conversation = tidy([_oasst_message(messages[m]) for m in path])
                key = tuple(path[: len(conversation)])
                if not conversation or key in seen:
                    continue
                seen.add(key)
                doc_id = root_id if self.mode == "best" else f"{root_id}:{key[-1]}"
                yield make_conversation(
                    doc_id,
                    conversation,
                    source="oasst1",
                    tree_id=root.get("message_tree_id", root_id),
                    language=root.get("lang"),
                )

    @staticmethod
    def _best_path(root: str, children: dict[str | None, list[str]], messages: dict[str, dict[str, Any]]) -> list[str]:
        path = [root]
        while children.get(path[-1]):
            ranked = sorted(
                children[path[-1]],
                key=lambda m: (messages[m].get("rank") is None, messages[m].get("rank") or 0, m),
            )
            path.append(ranked[0])
        return path

    @staticmethod
    def _all_paths(root: str, children: dict[str | None, list[str]]) -> list[list[str]]:
        paths, stack = [], [[root]]
        while stack:
            path = stack.pop()
            below = children.get(path[-1])
            if not below:
                paths.append(path)
            stack.extend(path + [child] for child in reversed(below or []))
        return paths


def _oasst_message(row: dict[str, Any]) -> dict[str, str]:
    return {"role": "user" if row["role"] == "prompter" else "assistant", "content": row["text"]}


class OpenOrcaSource(DataSource):
    """OpenOrca GPT-4 completions, a seeded uniform sample of ``sample`` rows.

    Args:
        paths: Local files in OpenOrca's schema; default: ``1M-GPT4-Augmented.parquet`` on the hub.
        sample: Rows to keep (200,000 in Lemur-Chat); ``0`` or more than available keeps all.
        seed: Sampling seed; equal seeds give equal samples.
        revision: Hub revision.
    """

    name = "openorca"

    def __init__(self, paths: Paths = None, sample: int = 200_000, seed: int = 0, revision: str | None = None):
        check_rows_source(paths, "Open-Orca/OpenOrca", revision)
        self.paths, self.sample, self.seed, self.revision = paths, int(sample), int(seed), revision

    def _rows(self) -> Iterator[dict[str, Any]]:
        return rows_from(self.paths, "Open-Orca/OpenOrca", self.revision, data_files="1M-GPT4-Augmented.parquet")

    def __iter__(self) -> Iterator[Document]:
        rng = random.Random(self.seed)
        reservoir: list[tuple[int, dict[str, Any]]] = []
        for number, row in enumerate(self._rows()):
            if self.sample <= 0 or len(reservoir) < self.sample:
                reservoir.append((number, row))
                continue
            slot = rng.randrange(number + 1)
            if slot < self.sample:
                reservoir[slot] = (number, row)
        for number, row in sorted(reservoir, key=lambda item: item[0]):
            messages = [{"role": "system", "content": row["system_prompt"]}] if row.get("system_prompt") else []
            messages += [
                {"role": "user", "content": row["question"]},
                {"role": "assistant", "content": row["response"]},
            ]
            yield make_conversation(str(row.get("id", number)), messages, source="openorca")


#: ShareGPT speaker names -> roles.
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "assistant": "assistant",
    "system": "system",
}


class ShareGPTSource(DataSource):
    """ShareGPT-format conversations (``id``, ``conversations: [{from, value}]``), roles normalised.

    Conversations with an unknown speaker or no complete round are skipped and counted in
    :attr:`skipped` (``unknown_role``, ``no_round``).

    Args:
        paths: Local ``.json`` (a list) or ``.jsonl`` files; default: the hub dataset.
        source: The name recorded in ``metadata["source"]`` (``sharegpt`` or ``chatlogs``).
        revision: Hub revision (default :data:`SHAREGPT_REVISION`).
    """

    name = "sharegpt"
    dataset = "anon8231489123/ShareGPT_Vicuna_unfiltered"
    data_files: str | None = "ShareGPT_V3_unfiltered_cleaned_split.json"

    def __init__(self, paths: Paths = None, source: str | None = None, revision: str | None = SHAREGPT_REVISION):
        check_rows_source(paths, self.dataset, revision)
        self.paths, self.revision = paths, revision
        self.source = source or self.name
        self.skipped: collections.Counter[str] = collections.Counter()

    def __iter__(self) -> Iterator[Document]:
        for number, row in enumerate(rows_from(self.paths, self.dataset, self.revision, data_files=self.data_files)):
            turns = row.get("conversations") or row.get("items") or []
            roles = [SHAREGPT_ROLES.get(str(turn.get("from", "")).lower()) for turn in turns]
            if None in roles:
                self.skipped["unknown_role"] += 1
                continue
            messages = tidy(
                [{"role": r, "content": str(t.get("value", ""))} for r, t in zip(roles, turns, strict=True)]
            )
            if not messages:
                self.skipped["no_round"] += 1
                continue
            yield make_conversation(str(row.get("id", number)), messages, source=self.source)


class ChatlogsSource(ShareGPTSource):
    """Chatlogs conversations; same format and handling as :class:`ShareGPTSource`.

    Lemur-Chat does not name a hub dataset for its Chatlogs, so local ``paths`` are required.

    Raises:
        LemurError: No ``paths`` given.
    """

    name = "chatlogs"
    dataset = "chatlogs"
    data_files = None

    def __init__(self, paths: Paths = None, source: str | None = None, revision: str | None = None):
        if not paths:
            raise LemurError(
                "chatlogs source: pass paths=<ShareGPT-format .json/.jsonl files>; no hub dataset is known"
            )
        super().__init__(paths, source, revision)


class EvolCodeAlpacaSource(DataSource):
    """Evol-CodeAlpaca ``instruction``/``output`` pairs as one-round conversations.

    Args:
        paths: Local files in the dataset's schema; default: the hub dataset.
        revision: Hub revision.
    """

    name = "evol-codealpaca"

    def __init__(self, paths: Paths = None, revision: str | None = None):
        check_rows_source(paths, "theblackcat102/evol-codealpaca-v1", revision)
        self.paths, self.revision = paths, revision

    def __iter__(self) -> Iterator[Document]:
        for number, row in enumerate(rows_from(self.paths, "theblackcat102/evol-codealpaca-v1", self.revision)):
            messages = [
                {"role": "user", "content": row["instruction"]},
                {"role": "assistant", "content": row["output"]},
            ]
            yield make_conversation(f"evol-codealpaca:{number}", messages, source="evol-codealpaca")
