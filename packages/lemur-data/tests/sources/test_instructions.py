"""The instruction-set sources, on small files written in each dataset's published schema.

No package ships OASST1, OpenOrca, ShareGPT or Evol-CodeAlpaca rows offline, so the
fixtures here follow the schemas field for field (OASST1 message trees with ``rank``,
OpenOrca ``system_prompt``/``question``/``response``, ShareGPT ``conversations[from, value]``).
"""

from __future__ import annotations

import json

import pytest

from lemur.core.errors import ConfigError, LemurError
from lemur.data.sources.conversation import render, rounds, tidy
from lemur.data.sources.instructions import (
    OASST1_REVISION,
    SHAREGPT_REVISION,
    ChatlogsSource,
    EvolCodeAlpacaSource,
    OASST1Source,
    OpenOrcaSource,
    ShareGPTSource,
)


def _message(message_id, parent, role, text, rank=None, lang="en", tree="t1", **extra):
    return {
        "message_id": message_id,
        "parent_id": parent,
        "role": role,
        "text": text,
        "rank": rank,
        "lang": lang,
        "message_tree_id": tree,
        "deleted": False,
        "review_result": True,
        **extra,
    }


@pytest.fixture
def oasst_file(tmp_path):
    rows = [
        _message("p1", None, "prompter", "How do I reverse a list in Python?"),
        _message("a1", "p1", "assistant", "Use reversed().", rank=1),
        _message("a2", "p1", "assistant", "Use slicing: xs[::-1].", rank=0),
        _message("p2", "a2", "prompter", "Does it copy?", rank=0),
        _message("a3", "p2", "assistant", "Yes, slicing returns a new list.", rank=0),
        _message("p3", "a1", "prompter", "And in place?", rank=0),
        _message("gone", "p1", "assistant", "spam", rank=2, deleted=True),
        _message("bad", "p1", "assistant", "rude", rank=3, review_result=False),
        _message("q1", None, "prompter", "Wie spät ist es?", lang="de", tree="t2"),
        _message("r1", "q1", "assistant", "Ich weiß es nicht.", rank=0, lang="de", tree="t2"),
    ]
    path = tmp_path / "oasst1.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_oasst1_best_path(oasst_file):
    documents = list(OASST1Source(paths=str(oasst_file), languages="en"))
    assert len(documents) == 1
    messages = documents[0].metadata["messages"]
    assert [m["content"] for m in messages] == [
        "How do I reverse a list in Python?",
        "Use slicing: xs[::-1].",
        "Does it copy?",
        "Yes, slicing returns a new list.",
    ]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert documents[0].text == render(messages) and rounds(messages) == 2
    assert documents[0].metadata["source"] == "oasst1" and documents[0].metadata["language"] == "en"


def test_oasst1_all_paths_trims_trailing_prompts_and_skips_deleted(oasst_file):
    documents = list(OASST1Source(paths=[oasst_file], mode="all"))
    contents = [[m["content"] for m in d.metadata["messages"]] for d in documents]
    assert ["How do I reverse a list in Python?", "Use reversed()."] in contents
    assert not any("spam" in c or "rude" in c for conv in contents for c in conv)
    assert len(contents) == 3 and len({d.id for d in documents}) == 3
    with pytest.raises(ConfigError, match="mode='top'"):
        OASST1Source(paths=str(oasst_file), mode="top")


def test_openorca_sample_is_seeded_uniform_and_in_file_order(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="needs 'pyarrow': pip install 'lemur-data[parquet]'")
    import pyarrow.parquet as pq

    count = 2000
    table = pa.table(
        {
            "id": [f"flan.{i}" for i in range(count)],
            "system_prompt": ["You are an AI assistant." if i % 2 else "" for i in range(count)],
            "question": [f"question {i}" for i in range(count)],
            "response": [f"answer {i}" for i in range(count)],
        }
    )
    path = tmp_path / "1M-GPT4-Augmented.parquet"
    pq.write_table(table, path, row_group_size=300)
    first = list(OpenOrcaSource(paths=str(path), sample=400, seed=1))
    again = list(OpenOrcaSource(paths=str(path), sample=400, seed=1))
    other = list(OpenOrcaSource(paths=str(path), sample=400, seed=2))
    ids = [int(d.id.split(".")[1]) for d in first]
    assert len(ids) == 400 == len(set(ids)) and ids == sorted(ids)
    assert [d.id for d in again] == [d.id for d in first] != [d.id for d in other]
    # A uniform sample of 400 of 0..1999 has mean 999.5 with standard error about 26.
    assert abs(sum(ids) / len(ids) - 999.5) < 4 * 26
    odd = next(d for d in first if int(d.id.split(".")[1]) % 2)
    assert [m["role"] for m in odd.metadata["messages"]] == ["system", "user", "assistant"]
    even = next(d for d in first if int(d.id.split(".")[1]) % 2 == 0)
    assert [m["role"] for m in even.metadata["messages"]] == ["user", "assistant"]
    assert len(list(OpenOrcaSource(paths=str(path), sample=5000))) == count


def test_sharegpt_roles_are_normalised_and_broken_conversations_counted(tmp_path):
    rows = [
        {"id": "ok", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
        {
            "id": "messy",
            "conversations": [
                {"from": "gpt", "value": "leading reply"},
                {"from": "human", "value": "part one"},
                {"from": "human", "value": "part two"},
                {"from": "chatgpt", "value": "answer"},
                {"from": "human", "value": "unanswered"},
            ],
        },
        {"id": "tool", "conversations": [{"from": "human", "value": "x"}, {"from": "tool", "value": "y"}]},
        {"id": "empty", "conversations": [{"from": "human", "value": "nobody answers"}]},
        {
            "id": "system",
            "conversations": [
                {"from": "system", "value": "be brief"},
                {"from": "human", "value": "q"},
                {"from": "bard", "value": "a"},
            ],
        },
    ]
    path = tmp_path / "sharegpt.json"
    path.write_text(json.dumps(rows))
    source = ShareGPTSource(paths=str(path))
    documents = {d.id: d.metadata["messages"] for d in source}
    assert set(documents) == {"ok", "messy", "system"}
    assert documents["messy"] == [
        {"role": "user", "content": "part one\n\npart two"},
        {"role": "assistant", "content": "answer"},
    ]
    assert [m["role"] for m in documents["system"]] == ["system", "user", "assistant"]
    assert source.skipped == {"unknown_role": 1, "no_round": 1}
    chat = next(iter(ChatlogsSource(paths=str(path))))
    assert chat.metadata["source"] == "chatlogs"
    with pytest.raises(LemurError, match="chatlogs source: pass paths="):
        ChatlogsSource()


def test_evol_codealpaca_pairs(tmp_path):
    path = tmp_path / "evol.jsonl"
    rows = [{"instruction": "Write a SQL query counting users.", "output": "SELECT COUNT(*) FROM users;"}]
    path.write_text(json.dumps(rows[0]) + "\n")
    (document,) = list(EvolCodeAlpacaSource(paths=str(path)))
    assert document.metadata["messages"][1]["content"] == "SELECT COUNT(*) FROM users;"
    assert document.text.startswith("user: Write a SQL query")


def test_tidy_returns_nothing_without_a_round():
    assert tidy([{"role": "assistant", "content": "x"}]) == []
    assert rounds([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 3) == 3


@pytest.mark.parametrize(
    ("make", "revision"),
    [(OASST1Source, OASST1_REVISION), (ShareGPTSource, SHAREGPT_REVISION)],
)
def test_pinned_hub_sources_need_no_revision_argument(make, revision):
    assert len(revision) == 40 and int(revision, 16) >= 0  # a full commit sha, not a branch or a short sha
    assert make().revision == revision  # constructing reads nothing, so this needs no network


@pytest.mark.parametrize("make", [OpenOrcaSource, EvolCodeAlpacaSource])
def test_unpinned_hub_sources_refuse_without_a_revision(make):
    with pytest.raises(LemurError, match="pin a revision with revision=<commit sha"):
        make()
    assert make(revision="0" * 40).revision == "0" * 40
