"""The Lemur-Chat ShareGPT/Chatlogs cleaning chain, with every part loaded by its registered name.

Conversations are written in ShareGPT's format from real text: English Wikipedia paragraphs
and real translated strings (German, Russian, Japanese) from /usr/share/locale, plus exact
and lightly edited copies. The chain is normalize -> language -> non-english-runs ->
exact-dedup -> minhash-dedup.
"""

from __future__ import annotations

import json
import random

import lemur_data_test_realdata as realdata
import pytest

from lemur.core.components import Kind
from lemur.core.plugins import load_component

pytest.importorskip("langdetect", reason="needs 'langdetect': pip install 'lemur-data[lang]'")


def _conversation(identifier: str, turns: list[str]) -> dict:
    speakers = ["human", "gpt"] * len(turns)
    return {
        "id": identifier,
        "conversations": [{"from": s, "value": t} for s, t in zip(speakers[: len(turns)], turns, strict=True)],
    }


def test_chain_keeps_english_conversations_once(tmp_path, enwiki_articles):
    rng = random.Random(0)
    english = []
    for title, text in list(enwiki_articles.items())[:20]:
        paragraphs = [p for p in text.split("\n") if len(p) > 200][:4]
        if len(paragraphs) >= 2:
            english.append(_conversation(f"en:{title}", paragraphs))
    foreign = [
        _conversation(f"{language}:{i}", text.split("\n")[:4])
        for language in ("de", "ru", "ja")
        for i, text in enumerate(realdata.gettext_documents(language, count=4))
    ]
    vocabulary = sorted({w for c in english for t in c["conversations"] for w in t["value"].split()})
    exact_copies = [dict(c, id=f"copy:{c['id']}") for c in english[:3]]
    edited = []
    for c in english[3:6]:
        turns = [realdata.edit_words(t["value"], 0.01, vocabulary, rng) for t in c["conversations"]]
        edited.append(_conversation(f"edit:{c['id']}", turns))
    rows = english + foreign + exact_copies + edited
    rng.shuffle(rows)
    path = tmp_path / "sharegpt.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")

    records = load_component(Kind.DATA_SOURCE, "sharegpt")(paths=str(path))
    steps = [
        load_component(Kind.DATA_STEP, name)()
        for name in ("normalize", "language", "non-english-runs", "exact-dedup", "minhash-dedup")
    ]
    for step in steps:
        records = step.run(records)
    kept = {doc.id for doc in records}

    first_seen = {}
    for row in rows:
        original = row["id"].split(":", 1)[1] if row["id"].startswith(("copy:", "edit:")) else row["id"]
        first_seen.setdefault(original, row["id"])
    # English text quoting a non-Latin word (Greek, Arabic) is dropped by the run rule, as in Lemur-Chat.
    quoting = {
        c["id"] for c in english if any(realdata.has_non_latin_letter_run(t["value"]) for t in c["conversations"])
    }
    assert kept == {first_seen[c["id"]] for c in english if c["id"] not in quoting}
    stats = {step.name: dict(step.stats) for step in steps}
    print(stats)
    assert stats["language"]["dropped_language"] == len(foreign)
    assert stats["non-english-runs"]["dropped"] == sum(
        1 for r in rows if r["id"].split(":", 1)[-1] in quoting or r["id"] in quoting
    )
    assert stats["exact-dedup"]["dropped_exact_duplicate"] + stats["minhash-dedup"]["dropped_near_duplicate"] == len(
        [r for r in exact_copies + edited if r["id"].split(":", 1)[1] not in quoting]
    )
